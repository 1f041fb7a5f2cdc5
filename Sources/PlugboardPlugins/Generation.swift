/// An immutable snapshot of what the host serves: loaded plugins, their manifests with the
/// config overlays applied, and the catalog clients see. A reload builds generation N+1 beside N.
public final class Generation: Sendable {
    public let number: UInt64
    public let catalog: Catalog
    let plugins: [LoadedPlugin]

    init(number: UInt64, catalog: Catalog, plugins: [LoadedPlugin]) {
        self.number = number
        self.catalog = catalog
        self.plugins = plugins
    }

    /// Stops every plugin of this generation once its calls have drained.
    func retire() async {
        await withTaskGroup(of: Void.self) { group in
            for plugin in plugins {
                group.addTask { await plugin.transport.retire() }
            }
        }
    }
}

/// A plugin that loaded: its manifest, its library and the way to call it.
struct LoadedPlugin: Sendable {
    let manifest: Manifest
    let library: PluginLibrary
    let transport: any PluginTransport
}
