import Foundation
import PlugboardJSON
import PlugboardMCP
import Testing

@testable import PlugboardPlugins

/// Isolation mode against real worker processes (the `plugboard` executable built beside the tests).
@Suite("Isolated plugins", .serialized)
struct IsolationTests {
    func host(_ plugins: PluginFolder, config: String = "") -> PluginHost {
        plugins.add(
            "versioned",
            manifest: """
                plugin: versioned
                library: libfixture_versioned_v1.so
                isolation: process
                \(config)
                tools:
                  - { name: answer, handler: versioned.answer, description: Says which build answers. }
                  - name: crash
                    handler: versioned.crash
                    description: Crashes on demand.
                    input_schema: { type: object, properties: { mode: { type: string } }, required: [mode] }
                  - name: hold
                    handler: versioned.hold
                    description: Answers once its release file exists.
                    input_schema: { type: object, properties: { release_file: { type: string } }, required: [release_file] }
                    limits: { timeout_ms: 4000 }
                """)
        plugins.addExample("demo")
        return PluginHost(
            configuration: PluginHostConfiguration(
                folder: plugins.folder, librarySearchPath: [TestSupport.buildFolder], stateDirectory: "\(plugins.root)/state",
                workerExecutable: "\(TestSupport.buildFolder)/plugboard"),
            logger: TestSupport.logger)
    }

    func call(_ host: PluginHost, _ tool: String, _ arguments: JSONObject = [:], cancellation: CancellationSignal = CancellationSignal()) async throws -> JSONValue {
        let lease = host.leaseCatalog()
        defer { lease.release() }
        let context = MCPCallContext(caller: MCPCaller(owner: "o"), requestID: .int(1), progress: nil, cancellation: cancellation)
        return try await lease.catalog.callTool(tool, arguments: arguments, context: context)
    }

    @Test("a crash fails only its call; the worker restarts and the next call succeeds", arguments: ["segfault", "fatal"])
    func crash(mode: String) async throws {
        let plugins = PluginFolder()
        defer { plugins.remove() }
        let host = host(plugins)
        #expect(await host.start().refusals.isEmpty)
        #expect(try await call(host, "answer")["content"]?.arrayValue?.first?["text"] == "v1")
        let crashed = try await call(host, "crash", ["mode": .string(mode)])
        #expect(crashed["isError"] == true)
        let text = crashed["content"]?.arrayValue?.first?["text"]?.stringValue ?? ""
        #expect(text.contains("crashed while handling this call in handler 'versioned.crash' (killed by signal"), "\(text)")
        #expect(try await call(host, "say", ["text": "in-process"])["content"]?.arrayValue?.first?["text"] == "in-process")
        #expect(try await call(host, "answer")["content"]?.arrayValue?.first?["text"] == "v1")
        #expect(host.status.plugins.first { $0.name == "versioned" }?.workerRestarts == 1)
        // Only the worker maps an isolated library, so stopping the worker really unloads it.
        // procfs reports a size of 0, so read to the end rather than by size.
        let maps = String(decoding: FileHandle(forReadingAtPath: "/proc/self/maps")?.readDataToEndOfFile() ?? Data(), as: UTF8.self)
        #expect(!maps.contains("\(plugins.root)/state/libraries/versioned-"))
        #expect(maps.contains("\(plugins.root)/state/libraries/demo-"))
        await host.shutdown()
    }

    @Test("the worker's description of the library is checked against the manifest")
    func missingHandlerInWorker() async {
        let plugins = PluginFolder()
        defer { plugins.remove() }
        let host = host(plugins)
        plugins.add(
            "versioned",
            manifest: "plugin: versioned\nlibrary: libfixture_versioned_v1.so\nisolation: process\ntools:\n  - { name: x, handler: versioned.nope, description: d }\n")
        let report = await host.start()
        #expect(report.refusals.first?.reason.hasPrefix("handler 'versioned.nope' (used by tool 'x' at line 5) is not implemented by libfixture_versioned_v1.so, which implements: versioned.answer") == true, "\(report.refusals)")
        await host.shutdown()
    }

    @Test("a worker whose plugin fails or crashes in create refuses the plugin", arguments: [
        ("config: { fail_on_create: true }", "refusing to start: fail_on_create is set"),
        ("config: { crash_on_create: true }", "the plugin worker exited while starting (killed by signal 11, SIGSEGV)"),
    ])
    func createFailures(config: String, reason: String) async {
        let plugins = PluginFolder()
        defer { plugins.remove() }
        let host = host(plugins, config: config)
        let report = await host.start()
        #expect(report.refusals.first?.plugin == "versioned")
        #expect(report.refusals.first?.reason.contains(reason) == true, "\(report.refusals)")
        #expect(report.plugins.map(\.name) == ["demo"])
        await host.shutdown()
    }

    @Test("a tool's timeout covers the wait for a worker restarting after a crash")
    func timeoutCoversRestart() async throws {
        let plugins = PluginFolder()
        defer { plugins.remove() }
        let host = host(plugins)
        #expect(await host.start().refusals.isEmpty)
        func restarts() -> Int { host.status.plugins.first { $0.name == "versioned" }?.workerRestarts ?? -1 }
        // The restart (the crash's backtrace, the backoff, a new process) takes a good part of the
        // 4000 ms timeout of `hold`.
        _ = try await call(host, "crash", ["mode": "segfault"])
        let started = ContinuousClock.now
        let readyAt = Task {
            _ = await eventually { restarts() == 1 }
            return ContinuousClock.now
        }
        // The release file never appears: the call ends only by its timeout.
        let result = try await call(host, "hold", ["release_file": .string("\(plugins.root)/never")])
        let ended = ContinuousClock.now
        let waited = await readyAt.value - started
        #expect(result["content"]?.arrayValue?.first?["text"]?.stringValue?.contains("did not finish within its 4000 ms time limit") == true, "\(result)")
        // Counted from the wait's end the call would last about waited + 4000 ms.
        #expect(ended - started < .milliseconds(4000) + waited / 2, "waited \(waited) for the worker, the call took \(ended - started)")
        await host.shutdown()
    }

    @Test("an isolated call cancelled before it starts never reaches the worker")
    func cancelledBeforeStart() async throws {
        let plugins = PluginFolder()
        defer { plugins.remove() }
        plugins.add(
            "misbehaving",
            manifest: misbehavingManifest(config: "isolation: process", tools: "  - { name: twice, handler: twice, description: d }"))
        let log = LogRecorder()
        let host = PluginHost(
            configuration: PluginHostConfiguration(
                folder: plugins.folder, librarySearchPath: [TestSupport.buildFolder], stateDirectory: "\(plugins.root)/state",
                workerExecutable: "\(TestSupport.buildFolder)/plugboard"),
            logger: log.logger)
        #expect(await host.start().refusals.isEmpty)
        func ignored() -> Int {
            log.count { $0.level == .warning && $0.message.hasPrefix("plugin completed a call that is not in flight") }
        }
        let cancelled = CancellationSignal()
        cancelled.cancel()
        let error = await #expect(throws: MCPError.self) { try await self.call(host, "twice", cancellation: cancelled) }
        #expect(error?.code == .requestCancelled)
        // The worker answers in order on one pipe (and sends only the first completion of a call):
        // once this call has its answer, a completion of the cancelled call would have come, and
        // been dropped, before it.
        #expect(try await call(host, "twice")["content"]?.arrayValue?.first?["text"] == "first")
        #expect(ignored() == 0, "the cancelled call reached the plugin: \(log.lines)")
        await host.shutdown()
    }

    @Test("worker frames survive encoding", arguments: [
        WorkerFrame.create(config: Array("{}".utf8)),
        .invoke(call: 42, handler: "h.x", owner: "ällice", input: Array(#"{"a":1}"#.utf8)),
        .cancel(call: .max),
        .queryResult(query: 3, status: -1, bytes: []),
        .created(status: 4, message: "nope"),
        .complete(call: 1, status: 0, bytes: [0, 255]),
        .progress(call: 2, progress: 0.5, total: -1, message: nil),
        .progress(call: 2, progress: 1, total: 2, message: Array("half".utf8)),
        .log(call: 0, level: 3, message: Array("oops".utf8)),
        .query(call: 9, query: 8, request: Array("{}".utf8)),
    ])
    func frames(frame: WorkerFrame) {
        let encoded = frame.encoded()
        #expect(WorkerFrame(body: Array(encoded.dropFirst(4))) == frame)
        #expect(WorkerFrame(body: Array(encoded.dropFirst(4).dropLast())) == nil || encoded.count <= 6)
    }
}
