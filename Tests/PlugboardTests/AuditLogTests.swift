import Foundation
import Logging
import PlugboardContracts
import PlugboardData
import PlugboardPlugins
import Synchronization
import Testing

/// A real SQLite store that fails a given number of writes first, and refuses to write from a
/// cancelled task the way the PostgreSQL pool does.
final class FlakyStore: HostStore {
    let store: SQLiteStore
    let failures: Mutex<Int>
    /// How long each write takes.
    let latency: Duration
    /// Writes that got past the failures and began (and are then busy for `latency`).
    let writesStarted = Mutex(0)

    init(path: String, failures: Int, latency: Duration = .zero) throws {
        store = try SQLiteStore(path: path)
        self.failures = Mutex(failures)
        self.latency = latency
    }

    func migrate() async throws -> [String] { try await store.migrate() }
    func seed(_ path: String) async throws -> Bool { try await store.seed(path) }
    func audit(limit: Int, after: Int64?) async throws -> [AuditRecord] { try await store.audit(limit: limit, after: after) }
    var auth: AuthStore { store.auth }

    func append(_ events: [AuditEvent]) async throws {
        try Task.checkCancellation()
        let fail = failures.withLock { remaining -> Bool in
            defer { remaining = max(0, remaining - 1) }
            return remaining > 0
        }
        if fail { throw TestFailure("the database is down") }
        writesStarted.withLock { $0 += 1 }
        try await Task.sleep(for: latency)
        try await store.append(events)
    }
}

@Suite("The audit log", .removesTemporaryFolders)
struct AuditLogTests {
    func event(_ tool: String) -> AuditEvent {
        AuditEvent(
            at: Date(), owner: "alice", client: nil, tool: tool, plugin: "demo", argumentsDigest: "00", rows: 0, bytes: 1, duration: .milliseconds(1),
            outcome: .ok)
    }

    func folder() -> String { TestSupport.temporaryFolder() }

    @Test("a failed write is kept and written by the next flush, in order")
    func retries() async throws {
        let store = try FlakyStore(path: "\(folder())/state.db", failures: 1)
        _ = try await store.migrate()
        let log = AuditLog(store: store, logger: TestSupport.logger)
        log.record(event("first"))
        await log.flush()
        #expect(try await store.audit(limit: 10, after: nil).isEmpty)
        log.record(event("second"))
        await log.flush()
        #expect(try await store.audit(limit: 10, after: nil).map(\.event.tool) == ["first", "second"])
    }

    @Test("shutdown's cancellation does not cancel the last write")
    func cancelled() async throws {
        let store = try FlakyStore(path: "\(folder())/state.db", failures: 0)
        _ = try await store.migrate()
        let log = AuditLog(store: store, logger: TestSupport.logger)
        log.record(event("last"))
        let shutdown = Task {
            try? await Task.sleep(for: .seconds(30))
            await log.stop()
        }
        shutdown.cancel()
        await shutdown.value
        #expect(try await store.audit(limit: 10, after: nil).map(\.event.tool) == ["last"])
    }

    @Test("shutdown waits for a periodic write already under way")
    func inFlight() async throws {
        let store = try FlakyStore(path: "\(folder())/state.db", failures: 0, latency: .milliseconds(500))
        _ = try await store.migrate()
        let log = AuditLog(store: store, logger: TestSupport.logger)
        log.start(interval: .milliseconds(10))
        log.record(event("in flight"))
        // The periodic flush has taken the record and is writing it (for 500 ms): stop must wait.
        #expect(await eventually { store.writesStarted.withLock { $0 } == 1 })
        await log.stop()
        #expect(try await store.audit(limit: 10, after: nil).map(\.event.tool) == ["in flight"])
    }

    @Test("while the store is down the flusher backs off exponentially to 30 s, and recovers by itself")
    func backoff() async throws {
        // Nine failed writes, then the database is back.
        let store = try FlakyStore(path: "\(folder())/state.db", failures: 9)
        _ = try await store.migrate()
        let log = AuditLog(store: store, logger: TestSupport.logger)
        let delays = Mutex<[Duration]>([])
        log.record(event("during the outage"))
        // Instead of waiting, the flusher's sleep records how long it would wait; after the
        // eleventh it waits for good (until stop cancels it).
        log.start(interval: .milliseconds(200), ceiling: .seconds(30)) { delay in
            let count = delays.withLock { delays in
                delays.append(delay)
                return delays.count
            }
            if count >= 11 { try await Task.sleep(for: .seconds(3600)) }
        }
        #expect(await eventually { delays.withLock { $0.count } == 11 })
        let expected: [Duration] = [200, 400, 800, 1_600, 3_200, 6_400, 12_800, 25_600, 30_000, 30_000, 200].map { .milliseconds($0) }
        #expect(delays.withLock { $0 } == expected)
        #expect(try await store.audit(limit: 10, after: nil).map(\.event.tool) == ["during the outage"])
        await log.stop()
    }
}
