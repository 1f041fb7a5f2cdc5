import PlugboardPlugins

extension PlugboardVersion {
    /// What `plugboard --version` prints: the host's version, the plugin ABI it speaks and the
    /// Swift that built it, which a Swift plugin must be built with too ("plugboard 0.1.0 · plugin
    /// ABI 1.1 · built with Swift 6.3.1").
    public static var banner: String {
        "plugboard \(current) · plugin ABI \(PluginLibrary.abiVersion) · built with Swift \(PluginLibrary.hostSwiftVersion)"
    }
}
