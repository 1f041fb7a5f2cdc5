import Foundation
import PlugboardMCP
import PlugboardPlugins
import Testing

/// The loader against real libraries built by this package, broken ones included.
@Suite("Plugin loader", .serialized)
struct LoaderTests {
    @Test("loads the example plugins in a stable order, from private content-addressed copies")
    func loadsExamples() async throws {
        let plugins = PluginFolder()
        defer { plugins.remove() }
        for name in ["notes", "demo", "echo_c"] { plugins.addExample(name) }
        let host = plugins.host()
        let report = await host.start()
        #expect(report.refusals.isEmpty, "\(report.refusals)")
        #expect(report.plugins.map(\.name) == ["demo", "echo_c", "notes"])
        let catalog = try #require(host.currentGeneration?.catalog)
        #expect(catalog.toolNames == ["say", "statistics", "countdown", "divide", "echo", "add_integers", "wait", "add_note", "list_notes"])
        let copies = try FileManager.default.contentsOfDirectory(atPath: "\(plugins.root)/state/libraries")
        #expect(copies.count == 3)
        let demoDigest = try #require(report.plugins.first?.digest)
        #expect(copies.contains("demo-\(demoDigest.prefix(32)).so"))
        await host.shutdown()
    }

    func refusal(for manifest: String, named name: String = "broken") async -> (PluginRefusal?, LoadReport) {
        let plugins = PluginFolder()
        defer { plugins.remove() }
        plugins.addExample("demo")
        let path = plugins.add(name, manifest: manifest)
        let host = plugins.host()
        let report = await host.start()
        await host.shutdown()
        let refusal = report.refusals.first { $0.file == path }
        return (refusal, report)
    }

    @Test("refuses a library built for another ABI major version, by name, and loads the rest")
    func abiMismatch() async {
        let (refusal, report) = await refusal(for: "plugin: future\nlibrary: libfixture_abi2.so\ntools:\n  - { name: noop, handler: noop, description: d }\n")
        #expect(refusal?.plugin == "future")
        #expect(refusal?.reason == "libfixture_abi2.so was built for plugin ABI 2, this host speaks ABI 1; rebuild the plugin against this host's plugboard.h")
        #expect(report.plugins.map(\.name) == ["demo"])
    }

    @Test("refuses a library that does not export the entry symbol")
    func missingSymbol() async {
        let (refusal, report) = await refusal(for: "plugin: nosymbol\nlibrary: libfixture_nosymbol.so\ntools:\n  - { name: noop, handler: noop, description: d }\n")
        #expect(refusal?.reason.hasPrefix("libfixture_nosymbol.so does not export plugboard_plugin_v1()") == true, "\(String(describing: refusal))")
        #expect(report.plugins.map(\.name) == ["demo"])
    }

    @Test("refuses a Swift plugin built by another toolchain, naming both")
    func toolchainMismatch() async {
        let (refusal, _) = await refusal(for: "plugin: othertoolchain\nlibrary: libfixture_toolchain.so\ntools:\n  - { name: noop, handler: noop, description: d }\n")
        let reason = refusal?.reason ?? ""
        #expect(reason.contains("built with Swift 5.10.1 (toolchain 'clang 0.0.0 (a different Swift toolchain)')"), "\(reason)")
        #expect(reason.contains("this host with Swift \(PluginLibrary.hostSwiftVersion) (toolchain '\(PluginLibrary.hostToolchain)')"), "\(reason)")
        #expect(reason.hasSuffix("rebuild the plugin with Swift \(PluginLibrary.hostSwiftVersion)"), "\(reason)")
        // The host's version in words is the compiler's, e.g. "6.3.1": digits, not the clang string.
        #expect(PluginLibrary.hostSwiftVersion.split(separator: ".").count == 3, "\(PluginLibrary.hostSwiftVersion)")
        #expect(PluginLibrary.hostSwiftVersion.allSatisfy { $0.isNumber || $0 == "." })
    }

    @Test("refuses a manifest naming a handler the library lacks, listing what it has")
    func missingHandler() async {
        let manifest = "plugin: demo2\nlibrary: libdemo.so\ntools:\n  - { name: other, handler: demo.nope, description: d }\n"
        let (refusal, _) = await refusal(for: manifest)
        // The library is the demo plugin, so the name check comes first.
        #expect(refusal?.reason == "the manifest says plugin 'demo2' but libdemo.so is plugin 'demo'")

        let plugins = PluginFolder()
        defer { plugins.remove() }
        let path = plugins.add("demo", manifest: "plugin: demo\nlibrary: libdemo.so\ntools:\n  - { name: say, handler: demo.echo, description: d }\n  - { name: other, handler: demo.nope, description: d }\n")
        let host = plugins.host()
        let report = await host.start()
        await host.shutdown()
        #expect(report.refusals.first?.file == path)
        #expect(report.refusals.first?.reason == "handler 'demo.nope' (used by tool 'other' at line 5) is not implemented by libdemo.so, which implements: demo.echo, demo.statistics, demo.countdown, demo.divide")
    }

    @Test("refuses a plugin whose tool name another plugin already provides")
    func duplicateToolAcrossPlugins() async {
        let manifest = "plugin: echo_c\nlibrary: libecho_c.so\ntools:\n  - { name: say, handler: echo.say, description: d }\n"
        let (refusal, report) = await refusal(for: manifest, named: "zz-echo")
        #expect(refusal?.line == 4)
        #expect(refusal?.reason.hasPrefix("duplicate tool name 'say': already provided by plugin 'demo'") == true, "\(String(describing: refusal))")
        #expect(report.plugins.map(\.name) == ["demo"])
    }

    @Test("refuses a plugin whose init fails, with the plugin's own reason")
    func initFailure() async {
        let manifest = misbehavingManifest(config: "config: { fail_init: true }", tools: "  - { name: hang, handler: hang, description: d }")
        let (refusal, report) = await refusal(for: manifest)
        #expect(refusal?.reason == "plugin init failed (create returned 4): refusing to start: fail_init is set")
        #expect(report.plugins.map(\.name) == ["demo"])
    }

    @Test("refuses a missing library and a file that is not a library")
    func unloadableFiles() async throws {
        let (missing, _) = await refusal(for: "plugin: ghost\nlibrary: libghost.so\ntools:\n  - { name: g, handler: g, description: d }\n")
        #expect(missing?.reason.hasPrefix("library 'libghost.so' not found (looked in: ") == true, "\(String(describing: missing))")

        let plugins = PluginFolder()
        defer { plugins.remove() }
        let path = plugins.add("junk", manifest: "plugin: junk\nlibrary: libjunk.so\ntools:\n  - { name: j, handler: j, description: d }\n")
        try "not an ELF file".write(toFile: "\(plugins.folder)/junk/libjunk.so", atomically: true, encoding: .utf8)
        let host = plugins.host()
        let report = await host.start()
        await host.shutdown()
        #expect(report.refusals.first?.file == path)
        #expect(report.refusals.first?.reason == "libjunk.so is not a plugin library for this machine: it is not an ELF file", "\(report.refusals)")
    }

    @Test("a bad manifest is refused with its line and the others still load")
    func badManifestAmongGood() async {
        let (refusal, report) = await refusal(for: "plugin: broken\nlibrary: libdemo.so\ntools:\n  - name: x\n    handler: demo.echo\n")
        #expect(refusal?.line == 4)
        #expect(refusal?.reason == "tools[0]: tool 'x' has no description; the description is what tells the model when to use the tool")
        #expect(report.plugins.map(\.name) == ["demo"])
    }
}
