import Foundation
import PlugboardData
import PlugboardJSON
import PlugboardMCP
import Synchronization
import Testing

@testable import PlugboardPlugins

/// A plugin cannot act on a call the host gave to another plugin: a thief that learned a victim's
/// live call id (here the victim announces it) gets refused by every callback, in-process and
/// from an isolated worker, and the victim's call is unaffected.
@Suite("Calls are bound to their plugin", .serialized)
struct CallOwnershipTests {
    static func manifest(_ plugin: String, isolation: String, tables: String = "", tool: String) -> String {
        """
        plugin: \(plugin)
        library: libfixture_\(plugin).so
        isolation: \(isolation)
        \(tables)
        tools:
          - name: \(tool)
            handler: \(tool)
            description: Part of the call-ownership test.
            input_schema: { type: object, properties: { call: { type: string } } }
            limits: { timeout_ms: 30000 }
        """
    }

    @Test("another plugin's call id is refused by owner, is_cancelled, progress, query and complete", arguments: ["in_process", "process"])
    func foreignCallIDs(thiefIsolation: String) async throws {
        let plugins = PluginFolder()
        defer { plugins.remove() }
        let database = "\(plugins.root)/data.db"
        try "CREATE TABLE notes (id INTEGER PRIMARY KEY, owner_id TEXT NOT NULL, body TEXT);".write(
            toFile: "\(plugins.root)/schema.sql", atomically: true, encoding: .utf8)
        let store = try SQLiteStore(path: database)
        _ = try await store.migrate()
        _ = try await store.seed("\(plugins.root)/schema.sql")
        plugins.add(
            "misbehaving",
            manifest: Self.manifest("misbehaving", isolation: "in_process", tables: "data: { tables: { notes: { owner_column: owner_id } } }", tool: "park"))
        plugins.add("thief", manifest: Self.manifest("thief", isolation: thiefIsolation, tool: "steal"))
        let host = PluginHost(
            configuration: PluginHostConfiguration(
                folder: plugins.folder, librarySearchPath: [TestSupport.buildFolder], stateDirectory: "\(plugins.root)/state",
                workerExecutable: "\(TestSupport.buildFolder)/plugboard"),
            data: try SQLiteScopedData(path: database, logger: TestSupport.logger), logger: TestSupport.logger)
        let report = await host.start()
        #expect(report.refusals.isEmpty, "\(report.refusals)")

        // The victim's call, running for alice, announces its id and waits.
        let progress = Mutex<[String]>([])
        let cancellation = CancellationSignal()
        let lease = host.leaseCatalog()
        let parked = Task {
            defer { lease.release() }
            let context = MCPCallContext(
                caller: MCPCaller(owner: "alice"), requestID: .int(1), progress: { update in progress.withLock { $0.append(update.message ?? "") } },
                cancellation: cancellation)
            return try await lease.catalog.callTool("park", arguments: [:], context: context)
        }
        try #require(await eventually { !progress.withLock { $0.isEmpty } }, "the victim's call never started")
        let victimID = progress.withLock { $0[0] }

        let thiefLease = host.leaseCatalog()
        let context = MCPCallContext(caller: MCPCaller(owner: "mallory"), requestID: .int(2), progress: nil, cancellation: CancellationSignal())
        let stolen = try await thiefLease.catalog.callTool("steal", arguments: ["call": .string(victimID)], context: context)
        thiefLease.release()
        let report2 = stolen["content"]?.arrayValue?.first?["text"]?.stringValue ?? ""
        // No owner, "cancelled" (not in flight for the thief), and the query refused as for a call not in flight.
        #expect(report2 == "owner_length=0 cancelled=1 query_status=2", "\(stolen.jsonString)")

        // The forged progress and completion did not reach the victim's call: it is still in
        // flight and ends only through its own client's cancellation.
        #expect(progress.withLock { $0 } == [victimID])
        cancellation.cancel()
        await #expect(throws: MCPError.self) { _ = try await parked.value }
        await host.shutdown()
    }

    @Test("call ids are random, not a sequence another plugin could guess")
    func unguessableIDs() {
        let registry = CallRegistry(logger: TestSupport.logger)
        let ids = (0..<1_000).map { _ in registry.makeID() }
        #expect(Set(ids).count == ids.count)
        #expect(!ids.contains(0))
        let consecutive = zip(ids, ids.dropFirst()).filter { $1 &- $0 == 1 }.count
        #expect(consecutive == 0)
        #expect(ids.filter { $0 > UInt64.max / 2 }.count > 400, "ids use all 64 bits")
    }
}
