import Foundation
import PlugboardJSON
import PlugboardMCP
import PlugboardPlugins
import Testing

/// Reloads by generation: swaps only when everything is valid, keeps in-flight calls on their
/// generation, carries unchanged plugins over and keeps renamed tools answering for a while.
@Suite("Reload by generations", .serialized)
struct ReloadTests {
    static func manifest(toolName: String = "answer", handler: String = "versioned.answer") -> String {
        """
        plugin: versioned
        library: libversioned.so
        tools:
          - { name: \(toolName), handler: \(handler), description: Says which build answers. }
          - name: slow
            handler: versioned.slow
            description: Counts slowly.
            input_schema: { type: object, properties: { steps: { type: integer }, delay_ms: { type: integer } }, required: [steps, delay_ms] }
          - name: hold
            handler: versioned.hold
            description: Answers once the release file exists.
            input_schema: { type: object, properties: { release_file: { type: string } }, required: [release_file] }
        """
    }

    /// A plugin folder holding the versioned fixture's first build.
    static func versionedV1() throws -> PluginFolder {
        let plugins = PluginFolder()
        plugins.add("versioned", manifest: manifest())
        do {
            try install("fixture_versioned_v1", into: plugins)
        } catch {
            plugins.remove()
            throw error
        }
        return plugins
    }

    /// Drops a library into the plugin folder the way users should: write beside, then rename.
    static func install(_ build: String, into plugins: PluginFolder, as name: String = "versioned") throws {
        let directory = "\(plugins.folder)/\(name)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let temporary = "\(directory)/.libversioned.so.tmp"
        try? FileManager.default.removeItem(atPath: temporary)
        try FileManager.default.copyItem(atPath: TestSupport.library(build), toPath: temporary)
        #expect(rename(temporary, "\(directory)/libversioned.so") == 0)
    }

    func answer(_ host: PluginHost, tool: String = "answer") async throws -> String {
        let lease = host.leaseCatalog()
        defer { lease.release() }
        let context = MCPCallContext(caller: MCPCaller(owner: "o"), requestID: .int(1), progress: nil, cancellation: CancellationSignal())
        let result = try await lease.catalog.callTool(tool, arguments: [:], context: context)
        return result["content"]?.arrayValue?.first?["text"]?.stringValue ?? ""
    }

    @Test("a new build is loaded, the old one retired, and unchanged plugins are carried over")
    func swapsBuilds() async throws {
        let plugins = try Self.versionedV1()
        defer { plugins.remove() }
        plugins.addExample("demo")
        let host = plugins.host()
        #expect(await host.start().refusals.isEmpty)
        #expect(try await answer(host) == "v1")

        try Self.install("fixture_versioned_v2", into: plugins)
        let outcome = await host.reload(reason: "test")
        #expect(outcome.applied)
        #expect(outcome.generation == 2)
        #expect(outcome.loaded == ["versioned"])
        #expect(outcome.carriedOver == ["demo"])
        #expect(outcome.changes == .none)  // same names and descriptions: clients need not refetch
        #expect(try await answer(host) == "v2")
        #expect(host.status.plugins.first { $0.name == "versioned" }?.libraryVersion == "2.0.0")

        // And back: the first build's copy is still mapped and is loaded again from a new instance.
        try Self.install("fixture_versioned_v1", into: plugins)
        #expect(await host.reload(reason: "test").applied)
        #expect(try await answer(host) == "v1")
        await host.shutdown()
    }

    @Test("a call in flight finishes on the generation it started on")
    func inFlightCallsFinishOnTheirGeneration() async throws {
        let plugins = try Self.versionedV1()
        defer { plugins.remove() }
        let host = plugins.host()
        await host.start()
        let releaseFile = "\(plugins.root)/release"
        let (started, startedContinuation) = AsyncStream.makeStream(of: String.self)
        let lease = host.leaseCatalog()
        let held = Task {
            defer { lease.release() }
            let context = MCPCallContext(
                caller: MCPCaller(owner: "o"), requestID: .int(7), progress: { startedContinuation.yield($0.message ?? "") },
                cancellation: CancellationSignal())
            return try await lease.catalog.callTool("hold", arguments: ["release_file": .string(releaseFile)], context: context)
        }
        var progress = started.makeAsyncIterator()
        #expect(await progress.next() == "v1 holding")  // the call runs in generation 1's plugin

        try Self.install("fixture_versioned_v2", into: plugins)
        #expect(await host.reload(reason: "test").applied)
        #expect(try await answer(host) == "v2")
        #expect(host.status.retiringGenerations == 1)  // generation 1 still serves the held call

        #expect(FileManager.default.createFile(atPath: releaseFile, contents: nil))
        let result = try await held.value
        #expect(result["content"]?.arrayValue?.first?["text"] == "v1 released")
        #expect(await eventually { host.status.retiringGenerations == 0 }, "generation 1 is retired once its last call ends")
        await host.shutdown()
    }

    @Test("a renamed tool keeps answering to its old name for plugins.alias_ttl, whatever reloads happen meanwhile")
    func renameAlias() async throws {
        let plugins = try Self.versionedV1()
        defer { plugins.remove() }
        let manifest = "\(plugins.folder)/versioned/manifest.yaml"
        let host = plugins.host()
        await host.start()

        try Self.manifest(toolName: "which_build").write(toFile: manifest, atomically: true, encoding: .utf8)
        let renamed = await host.reload(reason: "test")
        #expect(renamed.applied)
        #expect(renamed.changes == ListChanges(tools: true, resources: false, prompts: false))
        #expect(renamed.carriedOver == ["versioned"])  // a rename needs no new instance
        let names = host.servingCatalog.tools(for: MCPCaller(owner: "o")).compactMap { $0["name"]?.stringValue }
        #expect(names == ["which_build", "slow", "hold"])
        #expect(try await answer(host, tool: "which_build") == "v1")
        #expect(try await answer(host, tool: "answer") == "v1")  // hidden alias
        #expect(host.status.aliases == ["answer"])

        // An unrelated reload (a new build) does not end it, and it follows the tool there.
        try Self.install("fixture_versioned_v2", into: plugins)
        #expect(await host.reload(reason: "test").applied)
        #expect(try await answer(host, tool: "answer") == "v2")
        #expect(host.status.aliases == ["answer"])
        await host.shutdown()
    }

    @Test("an alias ends when plugins.alias_ttl is up, reload or not")
    func aliasExpiry() async throws {
        let plugins = try Self.versionedV1()
        defer { plugins.remove() }
        let manifest = "\(plugins.folder)/versioned/manifest.yaml"
        let host = plugins.host(aliasTTL: .milliseconds(300))
        await host.start()
        try Self.manifest(toolName: "which_build").write(toFile: manifest, atomically: true, encoding: .utf8)
        #expect(await host.reload(reason: "test").applied)
        #expect(await eventually { host.status.aliases.isEmpty })
        await #expect(throws: MCPError.self) { try await answer(host, tool: "answer") }
        #expect(try await answer(host, tool: "which_build") == "v1")
        await host.shutdown()
    }

    @Test("a refused plugin keeps serving its previous version while the other plugins' changes apply")
    func perPluginReload() async throws {
        let plugins = try Self.versionedV1()
        defer { plugins.remove() }
        let manifest = "\(plugins.folder)/versioned/manifest.yaml"
        let demo = plugins.addExample("demo")
        let host = plugins.host()
        await host.start()

        try Self.manifest(handler: "versioned.nope").write(toFile: manifest, atomically: true, encoding: .utf8)
        let text = try String(contentsOfFile: demo, encoding: .utf8)
        try text.replacingOccurrences(of: "Repeats the given text.", with: "Says it back.").write(toFile: demo, atomically: true, encoding: .utf8)
        let outcome = await host.reload(reason: "test")
        #expect(outcome.applied && outcome.partial)
        #expect(outcome.generation == 2)
        #expect(outcome.kept.map(\.name) == ["versioned"] && outcome.kept.first?.version == "0.0.0")
        #expect(outcome.kept.first?.reason.contains("handler 'versioned.nope'") == true, "\(outcome.kept)")
        #expect(outcome.refusals.count == 1)
        #expect(outcome.changes.tools)
        let say = host.servingCatalog.tools(for: MCPCaller(owner: "o")).first { $0["name"] == "say" }
        #expect(say?["description"]?.stringValue?.hasPrefix("Says it back.") == true)
        #expect(try await answer(host) == "v1")  // the last good version of versioned
        let status = host.status.plugins.first { $0.name == "versioned" }
        #expect(status?.refusedCandidate?.contains("handler 'versioned.nope'") == true)
        #expect(host.status.plugins.first { $0.name == "demo" }?.refusedCandidate == nil)

        // Repaired, it applies; nothing is kept any more.
        try Self.manifest().write(toFile: manifest, atomically: true, encoding: .utf8)
        let repaired = await host.reload(reason: "test")
        #expect(repaired.applied && !repaired.partial && repaired.kept.isEmpty)
        #expect(host.status.plugins.allSatisfy { $0.refusedCandidate == nil })
        await host.shutdown()
    }

    @Test("a new plugin's manifest without its library is left out and blocks no other change")
    func newPluginWithoutLibrary() async throws {
        let plugins = try Self.versionedV1()
        defer { plugins.remove() }
        let host = plugins.host()
        await host.start()

        plugins.add("early", manifest: "plugin: early\nlibrary: libearly.so\ntools:\n  - { name: soon, handler: early.soon, description: Not built yet. }\n")
        let alone = await host.reload(reason: "test")
        #expect(!alone.applied, "nothing else changed: the current generation serves on")
        #expect(alone.refusals.first?.reason.contains("library 'libearly.so' not found") == true, "\(alone.refusals)")

        try Self.install("fixture_versioned_v2", into: plugins)
        let next = await host.reload(reason: "test")
        #expect(next.applied && next.partial && next.kept.isEmpty)
        #expect(next.loaded == ["versioned"])
        #expect(try await answer(host) == "v2")
        #expect(!host.status.plugins.contains { $0.name == "early" })
        await host.shutdown()
    }

    @Test("a name clash refuses only the newcomer, whatever the folder order")
    func clashRefusesTheNewcomer() async throws {
        let plugins = PluginFolder()
        defer { plugins.remove() }
        plugins.addExample("demo")
        let host = plugins.host()
        await host.start()
        // "aaa" sorts before "demo" in the folder, so it is read first.
        plugins.add("aaa", manifest: misbehavingManifest(plugin: "misbehaving", tools: "  - { name: say, handler: hang, description: Takes demo's name. }"))
        let outcome = await host.reload(reason: "test")
        #expect(!outcome.applied)
        #expect(outcome.refusals.map(\.plugin) == ["misbehaving"])
        #expect(outcome.refusals.first?.reason.contains("duplicate tool name 'say'") == true, "\(outcome.refusals)")
        #expect(host.status.plugins.map(\.name) == ["demo"])
        await host.shutdown()
    }

    @Test("plugins.reload: all_or_nothing refuses the whole reload for one refused plugin")
    func allOrNothing() async throws {
        let plugins = try Self.versionedV1()
        defer { plugins.remove() }
        let manifest = "\(plugins.folder)/versioned/manifest.yaml"
        plugins.addExample("demo")
        let host = plugins.host(policy: .allOrNothing)
        await host.start()
        try Self.manifest(handler: "versioned.nope").write(toFile: manifest, atomically: true, encoding: .utf8)
        try Self.install("fixture_versioned_v2", into: plugins)
        let outcome = await host.reload(reason: "test")
        #expect(!outcome.applied && outcome.generation == 1)
        #expect(try await answer(host) == "v1")
        await host.shutdown()
    }

    @Test("an invalid generation is refused as a whole and the current one keeps serving", arguments: [
        "bad manifest", "wrong ABI", "missing handler", "name clash", "init failure",
    ])
    func refusals(kind: String) async throws {
        let plugins = try Self.versionedV1()
        defer { plugins.remove() }
        let manifest = "\(plugins.folder)/versioned/manifest.yaml"
        plugins.addExample("demo")
        let host = plugins.host()
        await host.start()
        let expected: String
        switch kind {
        case "bad manifest":
            try "plugin: versioned\nlibrary: libversioned.so\ntools:\n  - { name: answer handler: x }\n".write(toFile: manifest, atomically: true, encoding: .utf8)
            expected = "invalid YAML"
        case "wrong ABI":
            try FileManager.default.removeItem(atPath: "\(plugins.folder)/versioned/libversioned.so")
            try FileManager.default.copyItem(atPath: TestSupport.library("fixture_abi2"), toPath: "\(plugins.folder)/versioned/libversioned.so")
            expected = "was built for plugin ABI 2"
        case "missing handler":
            try Self.manifest(handler: "versioned.nope").write(toFile: manifest, atomically: true, encoding: .utf8)
            expected = "handler 'versioned.nope'"
        case "name clash":
            try Self.manifest(toolName: "say").write(toFile: manifest, atomically: true, encoding: .utf8)
            expected = "duplicate tool name 'say'"
        default:
            plugins.add("misbehaving", manifest: misbehavingManifest(config: "config: { fail_init: true }", tools: "  - { name: hang, handler: hang, description: d }"))
            expected = "plugin init failed"
        }
        let outcome = await host.reload(reason: "test")
        #expect(!outcome.applied)
        #expect(outcome.generation == 1)
        #expect(outcome.refusals.contains { $0.description.contains(expected) }, "\(outcome.refusals)")
        #expect(host.status.generation == 1)
        #expect(host.status.lastReload?.applied == false)
        #expect(try await answer(host) == "v1")
        await host.shutdown()
    }
}
