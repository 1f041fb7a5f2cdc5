import PlugboardContracts

extension PluginTables {
    /// The declarations of a manifest, or nil when it declares no tables.
    public init?(_ manifest: Manifest) {
        guard !manifest.tables.isEmpty else { return nil }
        self.init(plugin: manifest.plugin, manifest: manifest.file, tables: manifest.tables, writes: manifest.tools.contains(where: \.writes))
    }
}
