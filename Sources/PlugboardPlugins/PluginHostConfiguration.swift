import Foundation

/// Where plugins come from and how they are shown.
public struct PluginHostConfiguration: Sendable {
    /// The folder searched for `manifest.yaml` files.
    public var folder: String
    /// Folders searched for a manifest's library when it is not next to the manifest (the build
    /// folder during development).
    public var librarySearchPath: [String]
    /// Where private copies of libraries are kept.
    public var stateDirectory: String
    /// `config.yaml` overlays, by the tool's manifest name.
    public var toolOverlays: [String: ToolOverlay]
    /// `config.yaml` isolation overrides, by plugin name (they win over the manifest's).
    public var isolation: [String: Isolation]
    /// The `plugboard` executable that runs isolated plugins (`plugboard plugin-worker`).
    public var workerExecutable: String

    /// Where plugins whose manifest names no isolation run.
    public var defaultIsolation: Isolation
    /// What a reload does with a plugin whose new version is refused.
    public var reloadPolicy: ReloadPolicy
    /// How long the old name of a renamed tool keeps answering, whatever reloads happen meanwhile.
    public var aliasTTL: Duration

    public init(
        folder: String, librarySearchPath: [String] = [], stateDirectory: String, toolOverlays: [String: ToolOverlay] = [:],
        isolation: [String: Isolation] = [:], workerExecutable: String = PluginHostConfiguration.currentExecutable,
        defaultIsolation: Isolation = .inProcess, reloadPolicy: ReloadPolicy = .perPlugin, aliasTTL: Duration = .seconds(86_400)
    ) {
        self.defaultIsolation = defaultIsolation
        self.reloadPolicy = reloadPolicy
        self.aliasTTL = aliasTTL
        self.folder = folder
        self.librarySearchPath = librarySearchPath
        self.stateDirectory = stateDirectory
        self.toolOverlays = toolOverlays
        self.isolation = isolation
        self.workerExecutable = workerExecutable
    }

    /// This process's own executable.
    public static var currentExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}

/// What a reload does when some plugins' new versions are refused.
public enum ReloadPolicy: String, Sendable {
    /// Every plugin that validates is applied; a refused one keeps serving its last good version
    /// (a new one is left out). One person's bad drop in a shared folder stops nobody else's.
    case perPlugin = "per_plugin"
    /// Any refusal refuses the whole reload.
    case allOrNothing = "all_or_nothing"
}
