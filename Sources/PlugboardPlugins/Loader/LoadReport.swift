/// What loading a generation produced: what serves, what was refused and why.
public struct LoadReport: Sendable {
    /// The generation's number (1 for the catalog loaded at start).
    public var generation: UInt64
    public var plugins: [PluginSummary]
    public var refusals: [PluginRefusal]
    /// Problems that did not stop anything (an overlay for a tool that does not exist ...).
    public var warnings: [String]
}

/// A plugin that loaded.
public struct PluginSummary: Sendable, Equatable {
    public var name: String
    /// The manifest's version.
    public var version: String
    /// The version the library reports in its descriptor.
    public var libraryVersion: String
    public var manifest: String
    /// SHA-256 of the library that was loaded.
    public var digest: String
    public var isolation: Isolation
    /// For isolated plugins: how often the worker was restarted after dying.
    public var workerRestarts: Int? = nil
    public var tools: [String]
    public var resources: Int
    public var prompts: [String]
    /// Why the plugin's new version was refused, when this is its previous version serving on.
    public var refusedCandidate: String? = nil
    /// Tools of the manifest that config.yaml turns off (`enabled: false`), by the manifest's names.
    public var disabledTools: [String] = []
}

/// A plugin whose new version a reload refused, so that its previous version serves on.
public struct KeptPlugin: Sendable, Equatable {
    public var name: String
    /// The version that serves.
    public var version: String
    public var reason: String
}
