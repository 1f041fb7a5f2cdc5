import Foundation
import Logging
import PlugboardContracts
import PlugboardMCP
import Synchronization

/// Owns the plugins: builds generations, hands the current catalog to the MCP server, swaps in
/// reloaded generations atomically and retires replaced ones once their requests have drained.
public final class PluginHost: MCPCatalogSource {
    private let registry: CallRegistry
    private let data: any DataService
    private let audit: (any AuditSink)?
    private let logger: Logger
    private let state: Mutex<State>
    private let reloads = AsyncSerializer()
    /// Signs the caller's identity for `kind: http` plugins.
    private let tokens: (any BridgeTokenMinter)?

    private struct State {
        var configuration: PluginHostConfiguration
        var current: Generation?
        var lastReload: ReloadOutcome?
        var retiring = 0
    }

    public init(
        configuration: PluginHostConfiguration, data: any DataService = NoDatabase(), audit: (any AuditSink)? = nil, logger: Logger,
        tokens: (any BridgeTokenMinter)? = nil
    ) {
        self.tokens = tokens
        self.registry = CallRegistry(logger: logger)
        self.data = data
        self.audit = audit
        self.logger = logger
        self.state = Mutex(State(configuration: configuration))
    }

    /// Loads the plugins folder as the first generation. Refused plugins are reported and
    /// logged; everything else serves.
    @discardableResult
    public func start() async -> LoadReport {
        await reloads.run {
            let build = await builder().build(number: 1, previous: nil)
            state.withLock { $0.current = build.generation }
            log(build.report)
            return build.report
        }
    }

    /// Builds the next generation beside the current one and swaps it in. Every plugin that
    /// validates is applied; one that does not keeps serving its previous version, or, with
    /// `plugins.reload: all_or_nothing`, any refusal leaves the current generation serving
    /// untouched. Requests in flight finish on the generation they started on.
    /// - Parameters:
    ///   - configuration: new settings (a reloaded config.yaml), or nil to keep them.
    ///   - needsRestart: config.yaml settings that changed but only apply after a restart, to report.
    public func reload(reason: String, configuration: PluginHostConfiguration? = nil, needsRestart: [String] = []) async -> ReloadOutcome {
        await reloads.run {
            let started = ContinuousClock.now
            let (previous, settings) = state.withLock { state in (state.current, configuration ?? state.configuration) }
            let number = (previous?.number ?? 0) + 1
            let build = await GenerationBuilder(configuration: settings, registry: registry, data: data, audit: audit, logger: logger, tokens: tokens)
                .build(number: number, previous: previous)
            var outcome = ReloadOutcome(
                reason: reason, applied: false, generation: previous?.number ?? 0, refusals: build.report.refusals,
                warnings: build.report.warnings, changes: .none, loaded: [], carriedOver: build.carriedOver, removed: [],
                duration: .zero, finishedAt: Date(), needsRestart: needsRestart)
            // A reload that only refused something changes nothing: the current generation serves on.
            if let generation = build.generation, !(build.unchanged && !build.report.refusals.isEmpty) {
                state.withLock { state in
                    state.current = generation
                    state.configuration = settings
                }
                let previousPlugins = Set(previous?.plugins.map(\.manifest.plugin) ?? [])
                let currentPlugins = generation.plugins.map(\.manifest.plugin)
                let kept = Set(build.kept.map(\.name))
                outcome.applied = true
                outcome.generation = number
                outcome.kept = build.kept
                outcome.loaded = currentPlugins.filter { !build.carriedOver.contains($0) && !kept.contains($0) }
                outcome.removed = previousPlugins.subtracting(currentPlugins).sorted()
                outcome.changes = previous.map { generation.catalog.changedLists(since: $0.catalog) } ?? ListChanges(tools: true, resources: true, prompts: true)
                if let previous { retireInBackground(previous, successor: generation) }
            } else {
                outcome.carriedOver = []
            }
            outcome.duration = ContinuousClock.now - started
            outcome.finishedAt = Date()
            state.withLock { $0.lastReload = outcome }
            log(outcome)
            return outcome
        }
    }

    /// Records a reload refused before it reached the plugins (an invalid config.yaml).
    public func record(_ outcome: ReloadOutcome) {
        state.withLock { $0.lastReload = outcome }
        log(outcome)
    }

    public func leaseCatalog() -> MCPCatalogLease {
        let generation = state.withLock { state -> Generation? in
            state.current?.acquire()
            return state.current
        }
        guard let generation else {
            return MCPCatalogLease(catalog: Catalog(revision: 0, tools: [], resources: [], prompts: [], logger: logger))
        }
        return MCPCatalogLease(catalog: generation.catalog) { generation.release() }
    }

    public var currentGeneration: Generation? {
        state.withLock { $0.current }
    }

    /// What serves now and how the last reload went.
    public var status: HostStatus {
        state.withLock { state in
            HostStatus(
                generation: state.current?.number ?? 0, plugins: state.current?.summaries ?? [],
                aliases: state.current?.catalog.aliasNames ?? [], aliasTargets: state.current?.catalog.aliasTargets ?? [:], lastReload: state.lastReload,
                retiringGenerations: state.retiring)
        }
    }

    /// The tables the manifests in the plugins folder declare, read without loading any library
    /// (`plugboard migrate` sets up scoping from them). Manifests that do not parse are skipped.
    public func declaredTables() -> [PluginTables] {
        let folder = state.withLock { $0.configuration.folder }
        let paths = (try? ManifestDiscovery.manifests(in: folder)) ?? []
        return paths.compactMap { path in
            guard let text = try? String(contentsOfFile: path, encoding: .utf8), let manifest = try? ManifestParser.parse(yaml: text, file: path) else {
                return nil
            }
            return PluginTables(manifest)
        }
    }

    /// Checks and readies the database for these declarations (see `DataService.prepare`).
    public func prepareData(_ declarations: [PluginTables]) async -> [String: String] {
        await data.prepare(declarations)
    }

    /// Drains and releases every plugin. Calls in flight finish first.
    public func shutdown() async {
        await reloads.run {
            let generation = state.withLock { state -> Generation? in
                defer { state.current = nil }
                return state.current
            }
            await generation?.retire(keeping: nil)
        }
    }

    private func builder() -> GenerationBuilder {
        GenerationBuilder(configuration: state.withLock { $0.configuration }, registry: registry, data: data, audit: audit, logger: logger, tokens: tokens)
    }

    private func retireInBackground(_ generation: Generation, successor: Generation) {
        state.withLock { $0.retiring += 1 }
        Task {
            await generation.retire(keeping: successor)
            state.withLock { $0.retiring -= 1 }
            logger.debug("generation retired", metadata: ["generation": "\(generation.number)"])
        }
    }

    private func log(_ report: LoadReport) {
        for plugin in report.plugins {
            logger.info(
                "plugin loaded",
                metadata: [
                    "plugin": "\(plugin.name)", "version": "\(plugin.version)", "tools": "\(plugin.tools.joined(separator: ","))",
                    "digest": "\(plugin.digest.prefix(12))", "isolation": "\(plugin.isolation.rawValue)",
                ])
        }
        for refusal in report.refusals {
            logger.error("plugin refused: \(refusal)")
        }
        for warning in report.warnings {
            logger.warning("\(warning)")
        }
    }

    private func log(_ outcome: ReloadOutcome) {
        let metadata: Logger.Metadata = [
            "reason": "\(outcome.reason)", "generation": "\(outcome.generation)",
            "duration_ms": "\(outcome.duration.milliseconds)",
        ]
        if outcome.applied {
            let summary = "loaded: \(outcome.loaded.joined(separator: ",")); carried over: \(outcome.carriedOver.joined(separator: ",")); "
                + "removed: \(outcome.removed.joined(separator: ","))"
            logger.info("reload applied: generation \(outcome.generation) serving (\(summary))", metadata: metadata)
            for kept in outcome.kept {
                logger.error("reload refused plugin '\(kept.name)', its version \(kept.version) keeps serving: \(kept.reason)", metadata: metadata)
            }
            for refusal in outcome.refusals where !outcome.kept.contains(where: { $0.name == refusal.plugin }) {
                logger.error("reload left out a plugin: \(refusal)", metadata: metadata)
            }
        } else {
            logger.error(
                "reload refused, generation \(outcome.generation) keeps serving: \(outcome.refusals.map(\.description).joined(separator: "; "))",
                metadata: metadata)
        }
        for warning in outcome.warnings { logger.warning("\(warning)") }
    }
}

extension Duration {
    var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1_000 + Double(attoseconds) / 1e15
    }
}
