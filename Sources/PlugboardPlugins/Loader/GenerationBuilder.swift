import Crypto
import Foundation
import Logging
import PlugboardContracts
import PlugboardJSON

/// Builds a generation from the plugins folder: discovers and validates manifests, applies the
/// config overlays, loads libraries and creates instances. Every failure refuses only the plugin
/// it concerns: on a reload, a refused plugin keeps serving its previous version (unless the
/// policy is all-or-nothing), a refused new plugin is left out, and the rest is built regardless.
struct GenerationBuilder {
    let configuration: PluginHostConfiguration
    let registry: CallRegistry
    let data: any DataService
    let audit: (any AuditSink)?
    let logger: Logger
    /// Signs the caller's identity for `kind: http` plugins; nil where no server runs (tests, stdio without auth).
    var tokens: (any BridgeTokenMinter)? = nil

    /// The result of building a generation.
    struct Build {
        /// Nil when an all-or-nothing reload found a problem: nothing changes then.
        let generation: Generation?
        let report: LoadReport
        /// Plugins whose instance came over unchanged from the previous generation.
        let carriedOver: [String]
        /// Plugins whose new version was refused and whose previous version serves on.
        let kept: [KeptPlugin]
        /// True when the generation serves exactly what the previous one did (same instances,
        /// manifests and lists): a reload that only refused something changes nothing.
        let unchanged: Bool
    }

    /// One plugin as the new generation will serve it: a candidate from the folder, or the
    /// previous generation's version kept because its candidate was refused.
    private enum Serving {
        case loaded(LoadedPlugin, tools: [NamedPlugin.Tool])
        case kept(LoadedPlugin)
    }

    /// Builds generation `number`. Plugins of `previous` whose library, configuration and
    /// isolation are unchanged keep their instance.
    func build(number: UInt64, previous: Generation?) async -> Build {
        let keepsPrevious = configuration.reloadPolicy == .perPlugin
        var report = LoadReport(generation: number, plugins: [], refusals: [], warnings: [])
        let manifests = readManifests(into: &report)
        let earlier = Dictionary((previous?.plugins ?? []).map { ($0.manifest.plugin, $0) }, uniquingKeysWith: { first, _ in first })
        var kept: [String: (plugin: LoadedPlugin, reason: String)] = [:]
        // A manifest that cannot be read or parsed names no plugin; its file says which one it was.
        for refusal in report.refusals {
            if keepsPrevious, let old = previous?.plugins.first(where: { $0.manifest.file == refusal.file }) {
                kept[old.manifest.plugin] = (old, refusal.description)
            }
        }
        var refused: [String: PluginRefusal] = [:]
        func refuse(_ refusal: PluginRefusal) {
            guard let plugin = refusal.plugin, refused[plugin] == nil else { return }
            refused[plugin] = refusal
            report.refusals.append(refusal)
            if keepsPrevious, let old = earlier[plugin] { kept[plugin] = (old, refusal.description) }
        }

        // Names first: a plugin whose names did not change claims them before one that renamed,
        // and plugins already serving before new ones, so a clash refuses the newcomer, not the
        // plugin that was there. A refused plugin's kept version holds its old names: repeat
        // until nothing more is refused.
        let ordered = manifests.enumerated().sorted { lhs, rhs in
            let (left, right) = (priority(lhs.element, earlier), priority(rhs.element, earlier))
            return left != right ? left < right : lhs.offset < rhs.offset
        }.map(\.element)
        var named: [NamedPlugin] = []
        while true {
            var round: [PluginRefusal] = []
            named = resolveNames(
                ordered.filter { refused[$0.plugin] == nil }, reserving: kept.values.map(\.plugin), in: previous?.catalog, refusals: &round)
            guard !round.isEmpty else { break }
            round.forEach(refuse)
        }
        // The tables the plugins declare must exist and be scoped before any plugin can use them
        // (kept versions included: the data service serves exactly the plugins it was given).
        let declarations = (named.map(\.manifest) + kept.values.map(\.plugin.manifest)).compactMap(PluginTables.init)
        let problems = await data.prepare(declarations)
        for candidate in named {
            if let problem = problems[candidate.manifest.plugin] {
                refuse(PluginRefusal(file: candidate.manifest.file, line: nil, plugin: candidate.manifest.plugin, reason: problem))
            }
        }
        named.removeAll { refused[$0.manifest.plugin] != nil }
        // All or nothing: a reload stops at its first refusal (a start serves what loads).
        func abandoned() -> Bool { !keepsPrevious && previous != nil && !report.refusals.isEmpty }

        var reusable: [PluginIdentity: LoadedPlugin] = [:]
        for plugin in previous?.plugins ?? [] { reusable[plugin.identity] = plugin }
        var loaded: [String: (plugin: LoadedPlugin, tools: [NamedPlugin.Tool])] = [:]
        var created: [LoadedPlugin] = []
        var carriedOver: [String] = []
        for candidate in named where !abandoned() {
            if candidate.manifest.http != nil {
                let (plugin, reused) = httpPlugin(candidate, previous: earlier[candidate.manifest.plugin])
                loaded[plugin.manifest.plugin] = (plugin, candidate.tools)
                if reused { carriedOver.append(plugin.manifest.plugin) } else { created.append(plugin) }
                continue
            }
            do {
                let (copy, manifest) = try prepare(candidate.manifest)
                let identity = PluginIdentity(plugin: manifest.plugin, digest: copy.digest, config: manifest.config.jsonString, isolation: manifest.isolation)
                let names = candidate.tools.map(\.name)
                if let previous = reusable[identity] {
                    try Self.check(previous.library, against: manifest)
                    loaded[manifest.plugin] = (LoadedPlugin(manifest: manifest, library: previous.library, transport: previous.transport, toolNames: names), candidate.tools)
                    carriedOver.append(manifest.plugin)
                } else {
                    let (library, transport) = try await start(copy, manifest)
                    let plugin = LoadedPlugin(manifest: manifest, library: library, transport: transport, toolNames: names)
                    loaded[manifest.plugin] = (plugin, candidate.tools)
                    created.append(plugin)
                }
            } catch {
                refuse(PluginRefusal(file: candidate.manifest.file, line: nil, plugin: candidate.manifest.plugin, reason: error.description))
            }
        }
        if abandoned() {
            for plugin in created { await plugin.transport.retire() }
            return Build(generation: nil, report: report, carriedOver: [], kept: [], unchanged: true)
        }

        // In folder order: candidates that loaded, and kept versions where their candidate was
        // refused; kept plugins whose manifest no longer parses come last.
        var serving: [Serving] = manifests.compactMap { manifest in
            if let (plugin, tools) = loaded[manifest.plugin] { return .loaded(plugin, tools: tools) }
            return kept[manifest.plugin].map { .kept($0.plugin) }
        }
        let listed = Set(manifests.map(\.plugin))
        serving += (previous?.plugins ?? []).filter { kept[$0.manifest.plugin] != nil && !listed.contains($0.manifest.plugin) }.map { .kept($0) }

        var tools: [CatalogTool] = []
        var resources: [CatalogResource] = []
        var prompts: [CatalogPrompt] = []
        var plugins: [LoadedPlugin] = []
        for entry in serving {
            switch entry {
            case .loaded(let plugin, let namedTools):
                tools += namedTools.map {
                    CatalogTool(name: $0.name, description: $0.description, manifest: $0.manifest, plugin: plugin.manifest.plugin, transport: plugin.transport)
                }
                resources += plugin.manifest.resources.map { CatalogResource(manifest: $0, plugin: plugin.manifest.plugin, transport: plugin.transport) }
                prompts += plugin.manifest.prompts.map { CatalogPrompt(manifest: $0, plugin: plugin.manifest.plugin, transport: plugin.transport) }
                plugins.append(plugin)
            case .kept(let plugin):
                let name = plugin.manifest.plugin
                tools += previous?.catalog.tools.filter { $0.plugin == name } ?? []
                resources += previous?.catalog.resources.filter { $0.plugin == name } ?? []
                prompts += previous?.catalog.prompts.filter { $0.plugin == name } ?? []
                plugins.append(plugin)
            }
        }
        // Plugins refused while loading serve their previous version: scope what serves.
        let servingDeclarations = plugins.map(\.manifest).compactMap(PluginTables.init)
        if servingDeclarations != declarations { _ = await data.prepare(servingDeclarations) }
        let refusedCandidates = kept.mapValues(\.reason)
        report.plugins = plugins.map { plugin in
            var summary = plugin.summary
            summary.refusedCandidate = refusedCandidates[plugin.manifest.plugin]
            return summary
        }
        report.warnings += overlayWarnings(manifests: manifests, kept: kept.values.map(\.plugin))
        let catalog = Catalog(
            revision: number, tools: tools, aliases: Self.aliases(from: previous?.catalog, to: tools, lasting: configuration.aliasTTL),
            resources: resources, prompts: prompts, audit: audit, logger: logger)
        let generation = Generation(number: number, catalog: catalog, plugins: plugins, refusedCandidates: refusedCandidates)
        let unchanged: Bool =
            if let previous {
                created.isEmpty && plugins.count == previous.plugins.count
                    && zip(plugins, previous.plugins).allSatisfy { ($0.transport as AnyObject) === ($1.transport as AnyObject) && $0.manifest.source == $1.manifest.source }
                    && catalog.changedLists(since: previous.catalog) == .none
            } else { false }
        return Build(
            generation: generation, report: report, carriedOver: carriedOver,
            kept: plugins.compactMap { plugin in
                kept[plugin.manifest.plugin].map { KeptPlugin(name: plugin.manifest.plugin, version: plugin.manifest.version, reason: $0.reason) }
            },
            unchanged: unchanged)
    }

    /// Who claims names first: plugins whose names did not change, then plugins that were
    /// serving, then new ones.
    private func priority(_ manifest: Manifest, _ earlier: [String: LoadedPlugin]) -> Int {
        guard let old = earlier[manifest.plugin]?.manifest else { return 2 }
        let same =
            old.tools.map(\.name) == manifest.tools.map(\.name) && old.prompts.map(\.name) == manifest.prompts.map(\.name)
            && old.resources.map { Self.resourceKey($0) } == manifest.resources.map { Self.resourceKey($0) }
        return same ? 0 : 1
    }

    /// Old names of renamed tools, answering (hidden from lists) for `lasting` after the rename,
    /// whatever reloads happen meanwhile: some clients ignore list-changed notifications and call
    /// a tool by the name they listed before.
    static func aliases(from previous: Catalog?, to tools: [CatalogTool], lasting: Duration) -> [String: ToolAlias] {
        guard let previous else { return [:] }
        let current = Set(tools.map(\.name))
        let now = ContinuousClock.now
        func successor(of old: CatalogTool) -> CatalogTool? {
            tools.first { $0.plugin == old.plugin && $0.manifest.handler == old.manifest.handler }
        }
        var aliases: [String: ToolAlias] = [:]
        for (name, alias) in previous.liveAliases(at: now) where !current.contains(name) {
            if let tool = successor(of: alias.tool) { aliases[name] = ToolAlias(tool: tool, until: alias.until) }
        }
        for old in previous.tools where !current.contains(old.name) {
            if let tool = successor(of: old) { aliases[old.name] = ToolAlias(tool: tool, until: now + lasting) }
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
                var manifest = try ManifestParser.parse(yaml: text, file: path)
                manifest.source = text
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

    /// Applies overlays and refuses a plugin whose names clash with a plugin accepted before it
    /// or with a kept plugin (which serves the names it had in `catalog`).
    private func resolveNames(_ manifests: [Manifest], reserving kept: [LoadedPlugin], in catalog: Catalog?, refusals: inout [PluginRefusal]) -> [NamedPlugin] {
        var toolOwners: [String: String] = [:]
        var promptOwners: [String: String] = [:]
        var resourceOwners: [String: String] = [:]
        for plugin in kept {
            let owner = "plugin '\(plugin.manifest.plugin)' (kept at its previous version, \(plugin.manifest.file))"
            for tool in catalog?.tools ?? [] where tool.plugin == plugin.manifest.plugin { toolOwners[tool.name] = owner }
            for prompt in plugin.manifest.prompts { promptOwners[prompt.name] = owner }
            for resource in plugin.manifest.resources { resourceOwners[Self.resourceKey(resource)] = owner }
        }
        var accepted: [NamedPlugin] = []
        manifestLoop: for manifest in manifests {
            var tools: [NamedPlugin.Tool] = []
            var seen: [String: Int] = [:]
            for tool in manifest.tools {
                let overlay = configuration.toolOverlays[tool.name]
                if overlay?.enabled == false { continue }
                let name = overlay?.name ?? tool.name
                // A clash a config.yaml rename made is reported where the rename is written.
                func refusal(_ reason: String) -> PluginRefusal {
                    guard let overlay, overlay.name != nil, let file = overlay.file else {
                        return PluginRefusal(file: manifest.file, line: tool.line, plugin: manifest.plugin, reason: reason)
                    }
                    return PluginRefusal(
                        file: file, line: overlay.line, plugin: manifest.plugin,
                        reason: "renaming tool '\(tool.name)' (\(manifest.file):\(tool.line)) to '\(name)': \(reason)")
                }
                if let line = seen[name] {
                    refusals.append(refusal("tool name '\(name)' (after config.yaml overlays) is used twice (also at line \(line))"))
                    continue manifestLoop
                }
                if let owner = toolOwners[name] {
                    refusals.append(refusal("duplicate tool name '\(name)': already provided by \(owner)"))
                    continue manifestLoop
                }
                seen[name] = tool.line
                tools.append(NamedPlugin.Tool(name: name, description: overlay?.description ?? tool.description, manifest: tool))
            }
            for prompt in manifest.prompts {
                if let owner = promptOwners[prompt.name] {
                    refusals.append(PluginRefusal(file: manifest.file, line: prompt.line, plugin: manifest.plugin, reason: "duplicate prompt name '\(prompt.name)': already provided by \(owner)"))
                    continue manifestLoop
                }
            }
            for resource in manifest.resources {
                let key = Self.resourceKey(resource)
                if let owner = resourceOwners[key] {
                    refusals.append(PluginRefusal(file: manifest.file, line: resource.line, plugin: manifest.plugin, reason: "duplicate resource '\(key)': already provided by \(owner)"))
                    continue manifestLoop
                }
            }
            for tool in tools { toolOwners[tool.name] = "plugin '\(manifest.plugin)' (\(manifest.file):\(tool.manifest.line))" }
            for prompt in manifest.prompts { promptOwners[prompt.name] = "plugin '\(manifest.plugin)' (\(manifest.file):\(prompt.line))" }
            for resource in manifest.resources { resourceOwners[Self.resourceKey(resource)] = "plugin '\(manifest.plugin)' (\(manifest.file):\(resource.line))" }
            accepted.append(NamedPlugin(manifest: manifest, tools: tools))
        }
        return accepted
    }

    /// Overlays in config.yaml for tools no manifest declares (a typo, or a plugin removed). A
    /// refused plugin's tools still count as declared: its refusal already says what is wrong.
    private func overlayWarnings(manifests: [Manifest], kept: [LoadedPlugin]) -> [String] {
        let declared = Set((manifests + kept.map(\.manifest)).flatMap { $0.tools.map(\.name) })
        return configuration.toolOverlays.keys.sorted().filter { !declared.contains($0) }.map {
            "config.yaml overlays tool '\($0)', but no manifest in \(configuration.folder) declares a tool of that name"
        }
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
        if let isolation = configuration.isolation[manifest.plugin] {
            manifest.isolation = isolation
        } else if !manifest.declaresIsolation {
            manifest.isolation = configuration.defaultIsolation
        }
        guard manifest.abi == 1 else {
            throw LoadFailure("the manifest declares abi: \(manifest.abi), this host speaks plugin ABI 1")
        }
        guard let source = locateLibrary(manifest) else {
            let searched = ([URL(fileURLWithPath: manifest.file).deletingLastPathComponent().path] + configuration.librarySearchPath).joined(separator: ", ")
            throw LoadFailure("library '\(manifest.library)' not found (looked in: \(searched)); build the plugin or fix 'library:'")
        }
        do {
            return (try LibraryStore(directory: "\(configuration.stateDirectory)/libraries").privateCopy(of: source, plugin: manifest.plugin), manifest)
        } catch ELFCheck.Problem.incomplete(let reason) {
            throw LoadFailure("library \(source) looks incomplete (still being copied?): \(reason); it is loaded once complete (copy it beside and rename it into place)")
        } catch ELFCheck.Problem.unusable(let reason) {
            throw LoadFailure("\(manifest.library) is not a plugin library for this machine: \(reason)")
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

    /// A `kind: http` plugin: no library to load. An unchanged manifest keeps its transport, so a
    /// reload that changed nothing about it reports it carried over.
    private func httpPlugin(_ candidate: NamedPlugin, previous: LoadedPlugin?) -> (LoadedPlugin, reused: Bool) {
        let manifest = candidate.manifest
        let names = candidate.tools.map(\.name)
        let digest = "http-" + SHA256.hash(data: Array(manifest.source.utf8)).map { String(format: "%02x", $0) }.joined()
        let library = LibraryInfo(
            path: manifest.http?.baseURL ?? "", digest: digest, name: manifest.plugin, version: manifest.version, handlers: manifest.tools.map(\.handler))
        if let previous, previous.library.digest == digest, previous.transport is HTTPPlugin {
            return (LoadedPlugin(manifest: manifest, library: library, transport: previous.transport, toolNames: names), true)
        }
        let transport = HTTPPlugin(manifest: manifest, settings: manifest.http ?? HTTPPluginSettings(baseURL: "", audience: nil), tokens: tokens, logger: logger)
        return (LoadedPlugin(manifest: manifest, library: library, transport: transport, toolNames: names), false)
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
