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

    public init(
        folder: String, librarySearchPath: [String] = [], stateDirectory: String, toolOverlays: [String: ToolOverlay] = [:],
        isolation: [String: Isolation] = [:], workerExecutable: String = PluginHostConfiguration.currentExecutable
    ) {
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
