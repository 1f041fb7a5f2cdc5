import Foundation
import PlugboardContracts
import PlugboardJSON
import PlugboardMCP
import Synchronization
import Testing

@testable import PlugboardPlugins

/// Resources and prompts carry scopes like tools: listed, read and completed only for tokens that
/// hold them, and every read and get is audited like a tool call.
@Suite("Scopes and audit of every capability")
struct CapabilityScopesTests {
    final class Collected: AuditSink {
        let events = Mutex<[AuditEvent]>([])
        func record(_ event: AuditEvent) { events.withLock { $0.append(event) } }
    }

    static let prompts = """

        prompts:
          - name: open_prompt
            description: Anyone with a token.
            template: Hello {{who}}
            arguments: [{ name: who, required: true }]
          - name: secret_prompt
            description: Only with secrets:read.
            template: The secret of {{who}}
            arguments: [{ name: who, required: true, values: [alice, bob] }]
            scopes: [secrets:read]
        """

    @Test("a prompt with scopes is hidden, unknown and not completed without them; reads and gets are audited")
    func promptScopes() async throws {
        let plugins = PluginFolder()
        defer { plugins.remove() }
        let text = try String(contentsOfFile: "\(TestSupport.repositoryRoot)/Plugins/demo/manifest.yaml", encoding: .utf8)
        plugins.add("demo", manifest: text + Self.prompts)
        let audit = Collected()
        let host = PluginHost(configuration: plugins.configuration(), audit: audit, logger: TestSupport.logger)
        #expect(await host.start().refusals.isEmpty)
        let catalog = try #require(host.currentGeneration?.catalog)
        #expect(catalog.declaredScopes.contains("secrets:read"))
        #expect(catalog.scopes(method: "prompts/get", name: "secret_prompt") == ["secrets:read"])

        let without = MCPCaller(owner: "alice", clientID: "c", scopes: ["mcp"])
        let with = MCPCaller(owner: "alice", clientID: "c", scopes: ["mcp", "secrets:read"])
        func context(_ caller: MCPCaller) -> MCPCallContext {
            MCPCallContext(caller: caller, requestID: .int(1), progress: nil, cancellation: CancellationSignal())
        }
        #expect(catalog.prompts(for: without).compactMap { $0["name"]?.stringValue } == ["open_prompt"])
        #expect(catalog.prompts(for: with).compactMap { $0["name"]?.stringValue } == ["open_prompt", "secret_prompt"])
        await #expect(throws: MCPError.self) { try await catalog.getPrompt("secret_prompt", arguments: ["who": "bob"], context: context(without)) }
        #expect(throws: MCPError.self) { try catalog.complete(.prompt(name: "secret_prompt"), argument: "who", prefix: "", caller: without) }
        #expect(try catalog.complete(.prompt(name: "secret_prompt"), argument: "who", prefix: "b", caller: with) == ["bob"])
        let got = try await catalog.getPrompt("secret_prompt", arguments: ["who": "bob"], context: context(with))
        #expect(got["messages"]?.arrayValue?.first?["content"]?["text"] == "The secret of bob")

        let events = audit.events.withLock { $0 }
        #expect(events.map(\.kind) == [.prompt, .prompt])
        #expect(events.map(\.tool) == ["secret_prompt", "secret_prompt"])
        #expect(events.map(\.outcome) == [.notFound, .ok])
        #expect(events.last?.plugin == "demo" && events.last?.owner == "alice" && events.last?.client == "c")
        await host.shutdown()
    }
}

/// What a model reads when its arguments do not fit the handler's Swift types.
@Suite("Argument messages")
struct ArgumentMessageTests {
    @Test("a number for an Int field, or a string, names the argument, what it must be and what came")
    func decodeMessages() async throws {
        let plugins = PluginFolder()
        defer { plugins.remove() }
        // The schema is looser than the Swift type, as happens when the two are written apart.
        plugins.add(
            "demo",
            manifest: """
                plugin: demo
                library: libdemo.so
                tools:
                  - name: countdown
                    handler: demo.countdown
                    description: Counts down.
                    input_schema: { type: object, properties: { steps: {}, delay_ms: { type: number } }, required: [steps] }
                """)
        let host = plugins.host()
        #expect(await host.start().refusals.isEmpty)
        func message(_ arguments: JSONObject) async throws -> String {
            let lease = host.leaseCatalog()
            defer { lease.release() }
            let context = MCPCallContext(caller: MCPCaller(owner: "o"), requestID: .int(1), progress: nil, cancellation: CancellationSignal())
            let result = try await lease.catalog.callTool("countdown", arguments: arguments, context: context)
            #expect(result["isError"] == true)
            return result["content"]?.arrayValue?.first?["text"]?.stringValue ?? ""
        }
        #expect(try await message(["steps": .double(2.5)]).contains("argument 'steps' must be an integer, got 2.5"))
        #expect(try await message(["steps": "three"]).contains("argument 'steps' must be an integer, got \"three\""))
        #expect(try await message(["steps": 1, "delay_ms": .double(1e30)]).contains("argument 'delay_ms' must be an integer, got 1e+30"))
        await host.shutdown()
    }
}
