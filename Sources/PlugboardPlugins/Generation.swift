import Synchronization

/// An immutable snapshot of what the host serves: loaded plugins, their manifests with the
/// config overlays applied, and the catalog clients see. A reload builds generation N+1 beside N;
/// N keeps serving the requests that started on it and is retired when the last one ends.
public final class Generation: Sendable {
    public let number: UInt64
    public let catalog: Catalog
    let plugins: [LoadedPlugin]
    /// For plugins serving their previous version: why their new version was refused.
    let refusedCandidates: [String: String]
    private let leases = Mutex(LeaseState())

    private struct LeaseState {
        var active = 0
        var drainWaiter: CheckedContinuation<Void, Never>?
        var draining = false
    }

    init(number: UInt64, catalog: Catalog, plugins: [LoadedPlugin], refusedCandidates: [String: String] = [:]) {
        self.number = number
        self.catalog = catalog
        self.plugins = plugins
        self.refusedCandidates = refusedCandidates
    }

    /// The loaded plugins, for status reports.
    public var summaries: [PluginSummary] {
        plugins.map { plugin in
            var summary = plugin.summary
            summary.workerRestarts = (plugin.transport as? WorkerPlugin)?.restarts
            summary.refusedCandidate = refusedCandidates[plugin.manifest.plugin]
            // By the manifest's names: a rename changes what clients see, not what is served.
            let served = Set(catalog.tools.filter { $0.plugin == plugin.manifest.plugin }.map(\.manifest.name))
            summary.disabledTools = plugin.manifest.tools.map(\.name).filter { !served.contains($0) }
            return summary
        }
    }

    func acquire() {
        leases.withLock { $0.active += 1 }
    }

    func release() {
        let waiter = leases.withLock { state -> CheckedContinuation<Void, Never>? in
            state.active -= 1
            guard state.draining, state.active == 0 else { return nil }
            defer { state.drainWaiter = nil }
            return state.drainWaiter
        }
        waiter?.resume()
    }

    /// Returns once no request holds this generation any more.
    func drained() async {
        await withCheckedContinuation { continuation in
            let done = leases.withLock { state -> Bool in
                state.draining = true
                if state.active == 0 { return true }
                state.drainWaiter = continuation
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Stops the plugins of this generation that `successor` does not carry over, once its
    /// requests have drained. Libraries stay mapped (see `PluginLibrary`); isolated workers exit.
    func retire(keeping successor: Generation?) async {
        await drained()
        let kept = Set((successor?.plugins ?? []).map { ObjectIdentifier($0.transport as AnyObject) })
        await withTaskGroup(of: Void.self) { group in
            for plugin in plugins where !kept.contains(ObjectIdentifier(plugin.transport as AnyObject)) {
                group.addTask { await plugin.transport.retire() }
            }
        }
    }
}

/// A plugin that loaded: its manifest, its library and the way to call it.
struct LoadedPlugin: Sendable {
    let manifest: Manifest
    let library: LibraryInfo
    let transport: any PluginTransport
    let toolNames: [String]

    /// What decides whether a reload may keep this instance: the same library, configuration and
    /// isolation. Names, descriptions and schemas may change freely; handlers stay the same.
    var identity: PluginIdentity {
        PluginIdentity(plugin: manifest.plugin, digest: library.digest, config: manifest.config.jsonString, isolation: manifest.isolation)
    }

    var summary: PluginSummary {
        PluginSummary(
            name: manifest.plugin, version: manifest.version, libraryVersion: library.version, manifest: manifest.file, digest: library.digest,
            isolation: manifest.isolation, tools: toolNames, resources: manifest.resources.count, prompts: manifest.prompts.map(\.name))
    }
}

struct PluginIdentity: Hashable {
    let plugin: String
    let digest: String
    let config: String
    let isolation: Isolation
}
