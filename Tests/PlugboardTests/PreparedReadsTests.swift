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

    @Test("bad values, constraints and timeouts keep the name; anything else retires it for a new one")
    func retirement() throws {
        let reads = PreparedReads()
        _ = reads.succeeded(list)
        _ = reads.succeeded(list)
        let first = try #require(reads.name(for: list))
        for executionError in ["22P02", "22012", "23505", "57014", "53200"] {
            #expect(!reads.failed(list, sqlState: executionError))
            #expect(reads.name(for: list) == first)
        }
        // A changed table (0A000), a failed set-up (25P02), a dropped table, a lost connection.
        for preparationError: String? in ["0A000", "25P02", "42P01", nil] {
            #expect(reads.failed(list, sqlState: preparationError))
            #expect(reads.name(for: list) == nil)
            #expect(!reads.failed(list, sqlState: preparationError), "nothing left to retire")
            _ = reads.succeeded(list)
            _ = reads.succeeded(list)
            #expect(reads.name(for: list) != first, "a retired name is never reused")
        }
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

    @Test("reads seen once are never prepared")
    func onceOnly() {
        let reads = PreparedReads(capacity: 1)
        for index in 0..<100 {
            _ = reads.succeeded(PreparedReads.Key(plugin: "p", sql: "SELECT \(index)", types: []))
        }
        #expect(reads.count == 0)
    }
}
