import Foundation
import Logging
import PlugboardJSON
import PlugboardMCP
import PlugboardPlugins
import Synchronization
import Testing

/// Calls through the catalog into real plugins, including the misbehaving one.
@Suite("Plugin calls", .serialized)
final class PluginCallTests {
    let plugins = PluginFolder()
    let log = LogRecorder()
    let host: PluginHost
    let catalog: any MCPCatalog

    init() async throws {
        plugins.addExample("demo")
        plugins.addExample("notes")
        plugins.add(
            "misbehaving",
            manifest: misbehavingManifest(
                tools: """
                      - { name: hang, handler: hang, description: d, limits: { timeout_ms: 200 } }
                      - { name: twice, handler: twice, description: d }
                      - { name: bad_json, handler: bad_json, description: d }
                      - { name: wrong_shape, handler: wrong_shape, description: d }
                      - name: bad_structured
                        handler: bad_structured
                        description: d
                        output_schema: { type: object, properties: { count: { type: integer } }, required: [count] }
                      - { name: internal, handler: internal, description: d }
                      - { name: whoami, handler: owner, description: d }
                      - { name: query, handler: query, description: d }
                      - { name: late, handler: late, description: d, limits: { timeout_ms: 50 } }
                      - { name: tiny_budget, handler: owner, description: d, limits: { max_result_chars: 100 } }
                    """))
        host = PluginHost(configuration: plugins.configuration(), logger: log.logger)
        let report = await host.start()
        guard report.refusals.isEmpty else { throw TestFailure("refusals: \(report.refusals)") }
        catalog = host.servingCatalog
    }

    deinit {
        plugins.remove()
    }

    func call(_ name: String, _ arguments: JSONObject = [:], owner: String = "alice", progress: ProgressSink? = nil,
              cancellation: CancellationSignal = CancellationSignal()) async throws(MCPError) -> JSONValue {
        try await catalog.callTool(
            name, arguments: arguments,
            context: MCPCallContext(caller: MCPCaller(owner: owner), requestID: .int(1), progress: progress, cancellation: cancellation))
    }

    func text(_ result: JSONValue) -> String {
        result["content"]?.arrayValue?.first?["text"]?.stringValue ?? ""
    }

    @Test("a Swift plugin returns text and structured content")
    func swiftPlugin() async throws {
        #expect(text(try await call("say", ["text": "hello"])) == "hello")
        let result = try await call("statistics", ["values": [4, 1, 3, 2]])
        #expect(result["structuredContent"] == ["count": 4, "max": 4, "mean": 2.5, "median": 2.5, "min": 1])
        #expect(result["isError"] == nil)
    }

    @Test("a thrown ToolError becomes an isError result with its message")
    func toolError() async throws {
        let result = try await call("divide", ["dividend": 1, "divisor": 0])
        #expect(result["isError"] == true)
        #expect(text(result) == "Cannot divide by zero: pass a non-zero 'divisor'.")
    }

    @Test("arguments that break the input schema never reach the plugin")
    func invalidArguments() async throws {
        let result = try await call("statistics", ["values": ["one"]])
        #expect(result["isError"] == true)
        #expect(text(result).hasPrefix("Invalid arguments for tool 'statistics': /values/0: expected number, got string \"one\""))
    }

    @Test("an unknown tool is a protocol error")
    func unknownTool() async {
        let error = await #expect(throws: MCPError.self) { try await self.call("nope") }
        #expect(error?.code == .invalidParams)
    }

    @Test("a call that never completes times out with a clear error and the plugin keeps serving")
    func hang() async throws {
        let started = ContinuousClock.now
        let result = try await call("hang")
        #expect(ContinuousClock.now - started < .seconds(2))
        #expect(result["isError"] == true)
        #expect(text(result) == "The tool 'hang' did not finish within its 200 ms time limit. Try a narrower request.")
        #expect(text(try await call("twice")) == "first")
    }

    /// How many completions of `plugin` the host received for calls no longer in flight, and dropped.
    func ignoredCompletions(of plugin: String) -> Int {
        log.count { $0.level == .warning && $0.plugin == plugin && $0.message.hasPrefix("plugin completed a call that is not in flight") }
    }

    @Test("a second completion and a completion after the timeout are ignored")
    func lateAndDoubleCompletions() async throws {
        #expect(text(try await call("twice")) == "first")
        #expect(await eventually { self.ignoredCompletions(of: "misbehaving") == 1 }, "the second completion was not dropped: \(log.lines)")
        let late = try await call("late")
        #expect(text(late).contains("did not finish within its 50 ms"))
        // The plugin completes 400 ms after the call began, long after the host answered.
        #expect(await eventually { self.ignoredCompletions(of: "misbehaving") == 2 }, "the late completion was not dropped: \(log.lines)")
        #expect(text(try await call("say", ["text": "still here"])) == "still here")
        #expect(text(try await call("twice")) == "first")
    }

    @Test("broken results are refused as isError results", arguments: [
        ("bad_json", "returned an invalid result (not valid JSON"),
        ("wrong_shape", "returned an invalid result ('content' must be an array)"),
        ("bad_structured", "returned an invalid result (structuredContent does not match the output_schema: /count: expected integer"),
    ])
    func brokenResults(tool: String, expected: String) async throws {
        let result = try await call(tool)
        #expect(result["isError"] == true)
        #expect(text(result).contains(expected), "\(text(result))")
    }

    @Test("internal errors are logged, not shown to the model")
    func internalError() async throws {
        let result = try await call("internal")
        #expect(result["isError"] == true)
        #expect(!text(result).contains("hunter2"))
        #expect(!text(result).contains("10.1.2.3"))
        #expect(text(result) == "The tool 'internal' failed with an internal error; the server log has the details.")
    }

    @Test("a result over the tool's budget is refused with advice")
    func resultBudget() async throws {
        #expect(text(try await call("tiny_budget", owner: "short")) == "owner=short")
        let result = try await call("tiny_budget", owner: String(repeating: "x", count: 120))
        #expect(result["isError"] == true)
        #expect(text(result).hasPrefix("The result of 'tiny_budget' is 165 characters, over this tool's limit of 100."), "\(text(result))")
    }

    @Test("the plugin learns the caller's owner through the host")
    func owner() async throws {
        #expect(text(try await call("whoami", owner: "alice")) == "owner=alice")
        #expect(text(try await call("whoami", owner: "bob")) == "owner=bob")
    }

    @Test("scoped queries say no database is configured")
    func queryUnavailable() async throws {
        #expect(text(try await call("query")) == "status 6: scoped queries are unavailable: this host has no database configured")
    }

    @Test("progress reaches the sink in order")
    func progress() async throws {
        let updates = Mutex<[ProgressUpdate]>([])
        let result = try await call("countdown", ["steps": 3, "delay_ms": 1], progress: { update in updates.withLock { $0.append(update) } })
        #expect(text(result) == "Counted down 3 steps.")
        #expect(updates.withLock { $0 }.map(\.progress) == [1, 2, 3])
        #expect(updates.withLock { $0 }.first?.total == 3)
    }

    @Test("cancelling a call ends it at once and stops the plugin's task")
    func cancellation() async throws {
        let signal = CancellationSignal()
        let cancelledAt = Mutex<ContinuousClock.Instant?>(nil)
        // Cancelled at its first step, while the plugin surely runs it. Each step then waits 5 s,
        // and uncancelled the countdown would take 100 of them.
        let cancelOnFirstStep: ProgressSink = { _ in
            cancelledAt.withLock { $0 = $0 ?? .now }
            signal.cancel()
        }
        let error = await #expect(throws: MCPError.self) {
            try await self.call("countdown", ["steps": 100, "delay_ms": 5000], progress: cancelOnFirstStep, cancellation: signal)
        }
        #expect(error?.code == .requestCancelled)
        let cancelled = try #require(cancelledAt.withLock { $0 })
        #expect(ContinuousClock.now - cancelled < .seconds(4), "the call did not end before the plugin's step did")
        // The plugin's task stopped: it completes the call (the host drops that completion) at
        // once, not after its 5 s step, nor 500 s later.
        #expect(await eventually(timeout: .seconds(4)) { self.ignoredCompletions(of: "demo") == 1 }, "the plugin's task still runs: \(log.lines)")
        #expect(text(try await call("say", ["text": "after"])) == "after")
    }

    @Test("a request cancelled before its call starts never reaches the plugin")
    func cancelledBeforeStart() async throws {
        let signal = CancellationSignal()
        signal.cancel()
        let error = await #expect(throws: MCPError.self) { try await self.call("twice", cancellation: signal) }
        #expect(error?.code == .requestCancelled)
        // `twice` completes twice inside invoke: had the plugin been called, both completions
        // would have been dropped by now.
        #expect(ignoredCompletions(of: "misbehaving") == 0, "the cancelled call reached the plugin: \(log.lines)")
        #expect(text(try await call("twice")) == "first")
        #expect(ignoredCompletions(of: "misbehaving") == 1)
    }

    @Test("each owner sees only their own notes")
    func ownersAreSeparate() async throws {
        _ = try await call("add_note", ["title": "alice's", "body": "a"], owner: "alice")
        _ = try await call("add_note", ["title": "bob's", "body": "b"], owner: "bob")
        let alice = try await call("list_notes", owner: "alice")
        #expect(alice["structuredContent"]?["notes"]?.arrayValue?.compactMap { $0["title"]?.stringValue } == ["alice's"])
        let bobsNote = try #require(try await call("list_notes", owner: "bob")["structuredContent"]?["notes"]?.arrayValue?.first?["id"]?.integerValue)
        let context = MCPCallContext(caller: MCPCaller(owner: "alice"), requestID: .int(2), progress: nil, cancellation: CancellationSignal())
        let error = await #expect(throws: MCPError.self) { try await self.catalog.readResource("notes://\(bobsNote)", context: context) }
        #expect(error?.code == .resourceNotFound)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Keeps what the host logs, so a test can wait for a line it expects.
final class LogRecorder: Sendable {
    struct Line: Sendable, CustomStringConvertible {
        let level: Logger.Level
        let message: String
        let plugin: String?
        var description: String { "\(level) [\(plugin ?? "-")] \(message)" }
    }

    private let recorded = Mutex<[Line]>([])

    var logger: Logger {
        Logger(label: "plugboard-tests") { _ in Handler(recorder: self) }
    }

    var lines: [Line] { recorded.withLock { $0 } }

    func count(where matches: (Line) -> Bool) -> Int {
        recorded.withLock { $0.count(where: matches) }
    }

    private struct Handler: LogHandler {
        let recorder: LogRecorder
        var logLevel: Logger.Level = .debug
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let plugin = event.metadata?["plugin"].map { "\($0)" } ?? metadata["plugin"].map { "\($0)" }
            let line = Line(level: event.level, message: event.message.description, plugin: plugin)
            recorder.recorded.withLock { $0.append(line) }
        }
    }
}
