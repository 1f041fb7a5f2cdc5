import Foundation
import PlugboardJSON
import PlugboardMCP
import PlugboardPlugins
import PlugboardServer
import Testing

@Suite("Catalog overlays", .serialized)
struct CatalogOverlayTests {
    func load(_ overlays: [String: ToolOverlay], examples: [String] = ["demo", "echo_c"]) async -> (LoadReport, [JSONValue], PluginHost, PluginFolder) {
        let plugins = PluginFolder()
        for name in examples { plugins.addExample(name) }
        let host = plugins.host(overlays: overlays)
        let report = await host.start()
        return (report, host.servingCatalog.tools(for: MCPCaller(owner: "o")), host, plugins)
    }

    @Test("renames a tool, keeping its handler")
    func rename() async throws {
        let (report, tools, host, plugins) = await load(["say": ToolOverlay(name: "speak")])
        defer { plugins.remove() }
        #expect(report.refusals.isEmpty)
        #expect(tools.compactMap { $0["name"]?.stringValue }.prefix(2) == ["speak", "statistics"])
        let context = MCPCallContext(caller: MCPCaller(owner: "o"), requestID: .int(1), progress: nil, cancellation: CancellationSignal())
        let result = try await host.servingCatalog.callTool("speak", arguments: ["text": "renamed"], context: context)
        #expect(result["content"]?.arrayValue?.first?["text"] == "renamed")
        await #expect(throws: MCPError.self) { try await host.servingCatalog.callTool("say", arguments: ["text": "x"], context: context) }
        await host.shutdown()
    }

    @Test("replaces a description and switches a tool off")
    func describeAndDisable() async {
        let (_, tools, host, plugins) = await load([
            "statistics": ToolOverlay(description: "Sharper description."),
            "divide": ToolOverlay(enabled: false),
        ])
        defer { plugins.remove() }
        #expect(tools.first { $0["name"] == "statistics" }?["description"] == "Sharper description.")
        #expect(!tools.contains { $0["name"] == "divide" })
        await host.shutdown()
    }

    @Test("an overlay for a tool nobody declares is a warning, not a failure")
    func unknownOverlay() async {
        let (report, tools, host, plugins) = await load(["nonexistent": ToolOverlay(name: "x")])
        defer { plugins.remove() }
        #expect(report.warnings == ["config.yaml overlays tool 'nonexistent', but no manifest in \(plugins.folder) declares a tool of that name"])
        #expect(tools.count == 7)
        await host.shutdown()
    }

    @Test("overlays for the tools of a refused plugin add no warning: the refusal says what is wrong")
    func overlaysOfARefusedPlugin() async throws {
        let plugins = PluginFolder()
        defer { plugins.remove() }
        plugins.addExample("demo")
        plugins.add("broken", manifest: "plugin: broken\nlibrary: libmissing.so\ntools:\n  - { name: gone, handler: h, description: d }\n")
        let host = plugins.host(overlays: ["gone": ToolOverlay(description: "Sharper."), "typo": ToolOverlay(name: "x")])
        let report = await host.start()
        await host.shutdown()
        #expect(report.refusals.map(\.plugin) == ["broken"])
        #expect(report.warnings == ["config.yaml overlays tool 'typo', but no manifest in \(plugins.folder) declares a tool of that name"])
    }

    @Test("a rename that collides with another plugin's tool refuses the later plugin")
    func renameCollision() async {
        let (report, tools, host, plugins) = await load(["echo": ToolOverlay(name: "say")])
        defer { plugins.remove() }
        #expect(report.plugins.map(\.name) == ["demo"])
        #expect(report.refusals.first?.plugin == "echo_c")
        #expect(report.refusals.first?.reason.hasPrefix("duplicate tool name 'say': already provided by plugin 'demo'") == true)
        #expect(tools.count == 4)
        await host.shutdown()
    }

    @Test("a clash made by a config.yaml rename points at config.yaml and the rename's line")
    func renameCollisionInConfig() async throws {
        let plugins = PluginFolder()
        defer { plugins.remove() }
        plugins.addExample("demo")
        plugins.addExample("echo_c")
        let yaml = """
            plugins:
              folder: \(plugins.folder)
              library_path: [\(TestSupport.buildFolder)]
              state_dir: \(plugins.root)/state
            tools:
              echo:
                name: say
            """
        let configuration = try ConfigurationLoader.parse(yaml: yaml, file: "/etc/plugboard/config.yaml")
        let host = PluginHost(configuration: configuration.plugins, logger: TestSupport.logger)
        let report = await host.start()
        await host.shutdown()
        let refusal = try #require(report.refusals.first)
        #expect(refusal.file == "/etc/plugboard/config.yaml" && refusal.line == 7 && refusal.plugin == "echo_c", "\(refusal)")
        #expect(refusal.reason.hasPrefix("renaming tool 'echo' ("), "\(refusal)")
        #expect(refusal.reason.hasSuffix("to 'say': duplicate tool name 'say': already provided by plugin 'demo' (\(plugins.folder)/demo/manifest.yaml:8)"), "\(refusal)")
    }

    @Test("listing order is deterministic across loads: by manifest path, whatever order the folders are found in")
    func deterministicOrder() async {
        // One folder per plugin, made out of order (the order a directory lists is up to the file system).
        let (_, first, hostA, pluginsA) = await load([:], examples: ["notes", "echo_c", "demo"])
        // notes' folder also holds echo_c's: a walk of the tree meets more/manifest.yaml before
        // anything beneath more/, whichever folder it enters first, but more/echo_c/manifest.yaml
        // sorts before it.
        let pluginsB = PluginFolder()
        for (folder, example) in [("demo", "demo"), ("more", "notes"), ("more/echo_c", "echo_c")] {
            let manifest = try? String(contentsOfFile: "\(TestSupport.repositoryRoot)/Plugins/\(example)/manifest.yaml", encoding: .utf8)
            pluginsB.add(folder, manifest: manifest ?? "")
        }
        let hostB = pluginsB.host()
        let reportB = await hostB.start()
        let second = hostB.servingCatalog.tools(for: MCPCaller(owner: "o"))
        defer {
            pluginsA.remove()
            pluginsB.remove()
        }
        #expect(reportB.refusals.isEmpty, "\(reportB.refusals)")
        let names = { (tools: [JSONValue]) in tools.compactMap { $0["name"]?.stringValue } }
        #expect(names(first) == ["say", "statistics", "countdown", "divide", "echo", "add_integers", "wait", "add_note", "list_notes"])
        #expect(names(second) == names(first))
        #expect(first == second)
        await hostA.shutdown()
        await hostB.shutdown()
    }
}
