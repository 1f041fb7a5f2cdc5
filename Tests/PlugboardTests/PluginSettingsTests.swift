import Foundation
import PlugboardPlugins
import PlugboardServer
import Testing

/// The plugins settings this wave added, read from config.yaml and in effect.
@Suite("config.yaml: plugins settings")
struct PluginSettingsTests {
    func parse(_ yaml: String) throws(ConfigurationError) -> ServerConfiguration {
        try ConfigurationLoader.parse(yaml: yaml, file: "/srv/config.yaml")
    }

    @Test("alias_ttl takes seconds or a unit; reload and default_isolation take their names; defaults hold")
    func parsing() throws {
        let defaults = try parse("logging: { level: info }\n")
        #expect(defaults.plugins.aliasTTL == .seconds(86_400))
        #expect(defaults.plugins.reloadPolicy == .perPlugin)
        #expect(defaults.plugins.defaultIsolation == .inProcess)
        let set = try parse("plugins: { alias_ttl: 30m, reload: all_or_nothing, default_isolation: process }\n")
        #expect(set.plugins.aliasTTL == .seconds(1_800))
        #expect(set.plugins.reloadPolicy == .allOrNothing)
        #expect(set.plugins.defaultIsolation == .process)
        #expect(try parse("plugins: { alias_ttl: 45 }\n").plugins.aliasTTL == .seconds(45))
        for bad in ["alias_ttl: 3w", "alias_ttl: -1", "reload: sometimes", "default_isolation: sandbox"] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try parse("plugins: { \(bad) }\n") }
        }
    }

    @Test("a changed data: section is reported as needing a restart")
    func dataNeedsRestart() throws {
        let before = try parse("data: { url: 'sqlite:/srv/a.db' }\n")
        let after = try parse("data: { url: 'sqlite:/srv/b.db' }\n")
        #expect(after.settingsNeedingRestart(comparedTo: before).contains("data"))
        #expect(before.settingsNeedingRestart(comparedTo: before).isEmpty)
    }

    @Test("default_isolation runs a plugin whose manifest names no isolation in a worker; a manifest's own choice wins")
    func defaultIsolation() async throws {
        let plugins = PluginFolder()
        defer { plugins.remove() }
        plugins.add(
            "versioned",
            manifest: "plugin: versioned\nlibrary: libfixture_versioned_v1.so\ntools:\n  - { name: answer, handler: versioned.answer, description: d }\n")
        plugins.add("demo", manifest: (try String(contentsOfFile: "\(TestSupport.repositoryRoot)/Plugins/demo/manifest.yaml", encoding: .utf8)) + "isolation: in_process\n")
        var configuration = plugins.configuration()
        configuration.defaultIsolation = .process
        configuration.workerExecutable = "\(TestSupport.buildFolder)/plugboard"
        let host = PluginHost(configuration: configuration, logger: TestSupport.logger)
        #expect(await host.start().refusals.isEmpty)
        let isolation = Dictionary(uniqueKeysWithValues: host.status.plugins.map { ($0.name, $0.isolation) })
        #expect(isolation == ["versioned": .process, "demo": .inProcess])
        await host.shutdown()
    }
}
