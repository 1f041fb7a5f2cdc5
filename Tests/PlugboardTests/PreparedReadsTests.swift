import PostgresNIO
import Testing

@testable import PlugboardData

@Suite("Which plugin reads become prepared statements")
struct PreparedReadsTests {
    let list = PreparedReads.Key(plugin: "projects", sql: "SELECT * FROM (\nSELECT 1\n) AS pb_rows LIMIT 21", types: [.int8])

    @Test("a read is prepared after two unprepared successes, under a name of its own")
    func threshold() {
        let reads = PreparedReads()
        #expect(reads.name(for: list) == nil)
        _ = reads.succeeded(list)
        #expect(reads.name(for: list) == nil)
        _ = reads.succeeded(list)
        let name = reads.name(for: list)
        #expect(name != nil)
        // Same text, other parameter types or another plugin: another statement.
        let text = PreparedReads.Key(plugin: "projects", sql: list.sql, types: [.text])
        let plugin = PreparedReads.Key(plugin: "meetings", sql: list.sql, types: [.int8])
        for key in [text, plugin] {
            _ = reads.succeeded(key)
            _ = reads.succeeded(key)
            #expect(reads.name(for: key) != nil)
            #expect(reads.name(for: key) != name)
        }
        #expect(reads.count == 3)
    }

    @Test("a retired name is never used again; a read retired too often stays unprepared")
    func retirement() throws {
        let reads = PreparedReads()
        var seen: Set<String> = []
        for _ in 0..<PreparedReads.maximumRetirements {
            _ = reads.succeeded(list)
            _ = reads.succeeded(list)
            let name = try #require(reads.name(for: list))
            #expect(seen.insert(name).inserted, "\(name) was handed out before")
            reads.retire(list, name: name)
            #expect(reads.name(for: list) == nil)
        }
        _ = reads.succeeded(list)
        _ = reads.succeeded(list)
        #expect(reads.name(for: list) == nil)
    }

    @Test("retiring a name a read no longer has leaves the name it earned since")
    func staleRetirement() throws {
        let reads = PreparedReads()
        _ = reads.succeeded(list)
        _ = reads.succeeded(list)
        let first = try #require(reads.name(for: list))
        reads.retire(list, name: first)
        _ = reads.succeeded(list)
        _ = reads.succeeded(list)
        let second = try #require(reads.name(for: list))
        reads.retire(list, name: first)  // a call that still held the old name
        #expect(reads.name(for: list) == second)
    }

    @Test("at most `capacity` reads are prepared, and a full cache says so once")
    func capacity() {
        let reads = PreparedReads(capacity: 2)
        let keys = (1...3).map { PreparedReads.Key(plugin: "p", sql: "SELECT \($0)", types: []) }
        for key in keys.prefix(2) {
            #expect(!reads.succeeded(key))
            #expect(!reads.succeeded(key))
        }
        #expect(reads.succeeded(keys[2]), "the first read turned away reports the full cache")
        #expect(!reads.succeeded(keys[2]))
        #expect(reads.name(for: keys[2]) == nil)
        #expect(reads.count == 2)
    }

    @Test("a read longer than 8 KiB is never prepared")
    func long() {
        let reads = PreparedReads()
        let key = PreparedReads.Key(plugin: "p", sql: "SELECT '" + String(repeating: "x", count: PreparedReads.maximumLength) + "'", types: [])
        for _ in 0..<3 { _ = reads.succeeded(key) }
        #expect(reads.name(for: key) == nil)
    }

    @Test("reads seen once are never prepared")
    func onceOnly() {
        let reads = PreparedReads(capacity: 1)
        for index in 0..<100 {
            _ = reads.succeeded(PreparedReads.Key(plugin: "p", sql: "SELECT \(index)", types: []))
        }
        #expect(reads.count == 0)
    }
}
