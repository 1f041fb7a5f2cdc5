import Foundation
import Logging
import PlugboardJSON

/// Builds a generation from the plugins folder: discovers and validates manifests, applies the
/// config overlays, loads libraries and creates instances. Every failure refuses only the plugin
/// it concerns; the rest of the generation is built regardless.
struct GenerationBuilder {
    let configuration: PluginHostConfiguration
    let registry: CallRegistry
    let data: any DataService
    let audit: (any AuditSink)?
    let logger: Logger

    /// The result of building a generation.
    struct Build {
        /// Nil when a strict build found a problem: nothing changes then.
        let generation: Generation?
        let report: LoadReport
        /// Plugins whose instance came over unchanged from the previous generation.
        let carriedOver: [String]
    }

    /// Builds generation `number`. Plugins of `previous` whose library, configuration and
    /// isolation are unchanged keep their instance. A `strict` build (a reload) fails as a whole
    /// on the first refused plugin and releases what it created; a tolerant one (start-up) serves
    /// everything that loaded.
    func build(number: UInt64, previous: Generation?, strict: Bool) async -> Build {
        var report = LoadReport(generation: number, plugins: [], refusals: [], warnings: [])
        let manifests = readManifests(into: &report)
        var named = resolveNames(manifests, into: &report)
        // The tables the plugins declare must exist and be scoped before any plugin can use them.
        let problems = await data.prepare(named.compactMap { PluginTables($0.manifest) })
        for candidate in named {
            if let problem = problems[candidate.manifest.plugin] {
                report.refusals.append(PluginRefusal(file: candidate.manifest.file, line: nil, plugin: candidate.manifest.plugin, reason: problem))
            }
        }
        named.removeAll { problems[$0.manifest.plugin] != nil }
        var reusable: [PluginIdentity: LoadedPlugin] = [:]
        for plugin in previous?.plugins ?? [] { reusable[plugin.identity] = plugin }

        var loaded: [(plugin: LoadedPlugin, tools: [NamedPlugin.Tool])] = []
        var created: [LoadedPlugin] = []
        var carriedOver: [String] = []
        if !(strict && !report.refusals.isEmpty) {
            for candidate in named {
                do {
                    let (copy, manifest) = try prepare(candidate.manifest)
                    let identity = PluginIdentity(
                        plugin: manifest.plugin, digest: copy.digest, config: manifest.config.jsonString, isolation: manifest.isolation)
                    let names = candidate.tools.map(\.name)
                    if let previous = reusable[identity] {
                        try Self.check(previous.library, against: manifest)
                        let plugin = LoadedPlugin(manifest: manifest, library: previous.library, transport: previous.transport, toolNames: names)
                        loaded.append((plugin, candidate.tools))
                        carriedOver.append(manifest.plugin)
                    } else {
                        let (library, transport) = try await start(copy, manifest)
                        let plugin = LoadedPlugin(manifest: manifest, library: library, transport: transport, toolNames: names)
                        loaded.append((plugin, candidate.tools))
                        created.append(plugin)
                    }
                } catch {
                    report.refusals.append(PluginRefusal(file: candidate.manifest.file, line: nil, plugin: candidate.manifest.plugin, reason: error.description))
                    if strict { break }
                }
            }
        }
        if strict && !report.refusals.isEmpty {
            for plugin in created { await plugin.transport.retire() }
            return Build(generation: nil, report: report, carriedOver: [])
        }

        var tools: [CatalogTool] = []
        var resources: [CatalogResource] = []
        var prompts: [CatalogPrompt] = []
        for (plugin, namedTools) in loaded {
            for tool in namedTools {
                tools.append(CatalogTool(name: tool.name, description: tool.description, manifest: tool.manifest, plugin: plugin.manifest.plugin, transport: plugin.transport))
            }
            resources += plugin.manifest.resources.map { CatalogResource(manifest: $0, plugin: plugin.manifest.plugin, transport: plugin.transport) }
            prompts += plugin.manifest.prompts.map { CatalogPrompt(manifest: $0, plugin: plugin.manifest.plugin, transport: plugin.transport) }
        }
        report.plugins = loaded.map(\.plugin.summary)
        let catalog = Catalog(
            revision: number, tools: tools, aliases: Self.aliases(from: previous?.catalog, to: tools), resources: resources, prompts: prompts,
            audit: audit, logger: logger)
        return Build(
            generation: Generation(number: number, catalog: catalog, plugins: loaded.map(\.plugin)), report: report, carriedOver: carriedOver)
    }

    /// Old names of renamed tools, each still answering for one generation: some clients ignore
    /// list-changed notifications and call a tool by the name they listed before.
    static func aliases(from previous: Catalog?, to tools: [CatalogTool]) -> [String: CatalogTool] {
        guard let previous else { return [:] }
        let current = Set(tools.map(\.name))
        var aliases: [String: CatalogTool] = [:]
        for old in previous.tools where !current.contains(old.name) {
            if let renamed = tools.first(where: { $0.plugin == old.plugin && $0.manifest.handler == old.manifest.handler }) {
                aliases[old.name] = renamed
            }
        }
        return aliases
    }

    // MARK: Manifests

    private func readManifests(into report: inout LoadReport) -> [Manifest] {
        let paths: [String]
        do {
            paths = try ManifestDiscovery.manifests(in: configuration.folder)
        } catch {
            report.refusals.append(PluginRefusal(file: configuration.folder, line: nil, plugin: nil, reason: "cannot read the plugins folder: \(error.localizedDescription)"))
            return []
        }
        var manifests: [Manifest] = []
        var pluginNames: [String: String] = [:]
        for path in paths {
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                report.refusals.append(PluginRefusal(file: path, line: nil, plugin: nil, reason: "cannot read the manifest: \(error.localizedDescription)"))
                continue
            }
            do {
                let manifest = try ManifestParser.parse(yaml: text, file: path)
                if let other = pluginNames[manifest.plugin] {
                    report.refusals.append(PluginRefusal(file: path, line: nil, plugin: manifest.plugin, reason: "the plugin name is already used by \(other)"))
                    continue
                }
                pluginNames[manifest.plugin] = path
                manifests.append(manifest)
            } catch {
                report.refusals.append(error)
            }
        }
        return manifests
    }

    /// A manifest with its tools as clients will see them.
    struct NamedPlugin {
        struct Tool {
            let name: String
            let description: String
            let manifest: ToolManifest
        }

        let manifest: Manifest
        let tools: [Tool]
    }

    /// Applies overlays and refuses a plugin whose names clash with a plugin accepted before it.
    private func resolveNames(_ manifests: [Manifest], into report: inout LoadReport) -> [NamedPlugin] {
        var toolOwners: [String: String] = [:]
        var promptOwners: [String: String] = [:]
        var resourceOwners: [String: String] = [:]
        var usedOverlays = Set<String>()
        var accepted: [NamedPlugin] = []
        manifestLoop: for manifest in manifests {
            var tools: [NamedPlugin.Tool] = []
            var seen: [String: Int] = [:]
            for tool in manifest.tools {
                let overlay = configuration.toolOverlays[tool.name]
                if overlay != nil { usedOverlays.insert(tool.name) }
                if overlay?.enabled == false { continue }
                let name = overlay?.name ?? tool.name
                if let line = seen[name] {
                    report.refusals.append(PluginRefusal(file: manifest.file, line: tool.line, plugin: manifest.plugin, reason: "tool name '\(name)' (after config.yaml overlays) is used twice (also at line \(line))"))
                    continue manifestLoop
                }
                if let owner = toolOwners[name] {
                    report.refusals.append(PluginRefusal(file: manifest.file, line: tool.line, plugin: manifest.plugin, reason: "duplicate tool name '\(name)': already provided by \(owner)"))
                    continue manifestLoop
                }
                seen[name] = tool.line
                tools.append(NamedPlugin.Tool(name: name, description: overlay?.description ?? tool.description, manifest: tool))
            }
            for prompt in manifest.prompts {
                if let owner = promptOwners[prompt.name] {
                    report.refusals.append(PluginRefusal(file: manifest.file, line: prompt.line, plugin: manifest.plugin, reason: "duplicate prompt name '\(prompt.name)': already provided by \(owner)"))
                    continue manifestLoop
                }
            }
            for resource in manifest.resources {
                let key = Self.resourceKey(resource)
                if let owner = resourceOwners[key] {
                    report.refusals.append(PluginRefusal(file: manifest.file, line: resource.line, plugin: manifest.plugin, reason: "duplicate resource '\(key)': already provided by \(owner)"))
                    continue manifestLoop
                }
            }
            for tool in tools { toolOwners[tool.name] = "plugin '\(manifest.plugin)' (\(manifest.file):\(tool.manifest.line))" }
            for prompt in manifest.prompts { promptOwners[prompt.name] = "plugin '\(manifest.plugin)' (\(manifest.file):\(prompt.line))" }
            for resource in manifest.resources { resourceOwners[Self.resourceKey(resource)] = "plugin '\(manifest.plugin)' (\(manifest.file):\(resource.line))" }
            accepted.append(NamedPlugin(manifest: manifest, tools: tools))
        }
        for name in configuration.toolOverlays.keys.sorted() where !usedOverlays.contains(name) {
            report.warnings.append("config.yaml overlays tool '\(name)', but no loaded manifest declares a tool of that name")
        }
        return accepted
    }

    private static func resourceKey(_ resource: ResourceManifest) -> String {
        switch resource.address {
        case .uri(let uri): uri
        case .template(let template): template.source
        }
    }

    // MARK: Libraries

    /// Finds the manifest's library and makes its private copy; applies the configured isolation.
    private func prepare(_ original: Manifest) throws(LoadFailure) -> ((path: String, digest: String), Manifest) {
        var manifest = original
        if let isolation = configuration.isolation[manifest.plugin] { manifest.isolation = isolation }
        guard manifest.abi == 1 else {
            throw LoadFailure("the manifest declares abi: \(manifest.abi), this host speaks plugin ABI 1")
        }
        guard let source = locateLibrary(manifest) else {
            let searched = ([URL(fileURLWithPath: manifest.file).deletingLastPathComponent().path] + configuration.librarySearchPath).joined(separator: ", ")
            throw LoadFailure("library '\(manifest.library)' not found (looked in: \(searched)); build the plugin or fix 'library:'")
        }
        do {
            return (try LibraryStore(directory: "\(configuration.stateDirectory)/libraries").privateCopy(of: source, plugin: manifest.plugin), manifest)
        } catch {
            throw LoadFailure("cannot copy \(source) into \(configuration.stateDirectory)/libraries: \(error.localizedDescription)")
        }
    }

    /// Checks that the library is the plugin the manifest describes and implements every handler it uses.
    static func check(_ library: LibraryInfo, against manifest: Manifest) throws(LoadFailure) {
        if library.name != manifest.plugin {
            throw LoadFailure("the manifest says plugin '\(manifest.plugin)' but \(manifest.library) is plugin '\(library.name)'")
        }
        let implemented = Set(library.handlers)
        for reference in manifest.handlerReferences where !implemented.contains(reference.handler) {
            throw LoadFailure(
                "handler '\(reference.handler)' (used by \(reference.usedBy) at line \(reference.line)) is not implemented by \(manifest.library), "
                    + "which implements: \(library.handlers.isEmpty ? "nothing" : library.handlers.joined(separator: ", "))")
        }
    }

    /// Loads the library and creates an instance of the plugin: in this process, or in a worker
    /// (which maps the library there and reports what it is, so the host never maps it).
    private func start(_ copy: (path: String, digest: String), _ manifest: Manifest) async throws(LoadFailure) -> (LibraryInfo, any PluginTransport) {
        switch manifest.isolation {
        case .inProcess:
            let library = try PluginLibrary.open(path: copy.path, digest: copy.digest, displayName: manifest.library)
            try Self.check(library.info, against: manifest)
            let transport = try InProcessPlugin.create(
                library: library, plugin: manifest.plugin, config: manifest.config.jsonBytes, registry: registry, data: data, logger: logger)
            return (library.info, transport)
        case .process:
            return try await WorkerPlugin.start(
                library: copy, manifest: manifest, executable: configuration.workerExecutable, registry: registry, data: data, logger: logger,
                check: { library throws(LoadFailure) in try Self.check(library, against: manifest) })
        }
    }

    private func locateLibrary(_ manifest: Manifest) -> String? {
        let folder = URL(fileURLWithPath: manifest.file).deletingLastPathComponent().path
        let candidates =
            manifest.library.hasPrefix("/")
            ? [manifest.library]
            : ([folder] + configuration.librarySearchPath).map { "\($0)/\(manifest.library)" }
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }
}
