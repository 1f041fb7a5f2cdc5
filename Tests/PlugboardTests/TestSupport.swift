import Foundation
import Logging
import PlugboardMCP
import PlugboardPlugins
import Synchronization
import Testing

/// Helpers shared by the tests: the build folder holding the real plugin libraries, and
/// throwaway plugin folders.
enum TestSupport {
    /// The folder of the running test binary, which is where SwiftPM puts the plugin libraries.
    static let buildFolder: String = {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var folder = executable.deletingLastPathComponent()
        // `swift test` runs <build>/<Package>PackageTests.xctest (a file on Linux).
        while !FileManager.default.fileExists(atPath: folder.appendingPathComponent("libdemo.so").path), folder.path != "/" {
            folder = folder.deletingLastPathComponent()
        }
        return folder.path
    }()

    static let repositoryRoot: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }()

    static func library(_ name: String) -> String {
        "\(buildFolder)/lib\(name).so"
    }

    static let logger: Logger = {
        var logger = Logger(label: "plugboard-tests")
        logger.logLevel = .critical
        return logger
    }()

    /// A fresh temporary folder, removed by the caller's `defer` or, in a test or suite with the
    /// `.removesTemporaryFolders` trait, when the test ends.
    static func temporaryFolder() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("plugboard-test-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        TemporaryFolders.current?.add(path)
        return path
    }
}

/// The temporary folders made during one test, for tests that cannot remove their own (a helper
/// returns a store or an app whose folder outlives the helper).
final class TemporaryFolders: Sendable {
    @TaskLocal static var current: TemporaryFolders?

    private let paths = Mutex<[String]>([])

    func add(_ path: String) {
        paths.withLock { $0.append(path) }
    }

    func removeAll() {
        for path in paths.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: path) }
    }
}

/// Removes every folder `TestSupport.temporaryFolder()` made during a test once the test ends.
struct RemovesTemporaryFolders: TestTrait, SuiteTrait, TestScoping {
    var isRecursive: Bool { true }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let folders = TemporaryFolders()
        defer { folders.removeAll() }
        try await TemporaryFolders.$current.withValue(folders) { try await function() }
    }
}

extension Trait where Self == RemovesTemporaryFolders {
    static var removesTemporaryFolders: Self { Self() }
}

/// Waits for something that happens in the background: true as soon as `condition` holds, false
/// if it still does not after `timeout` (generous: a loaded 2-core CI machine is slow, and a
/// passing test waits only as long as it must).
func eventually(timeout: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else { return false }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return true
}

/// A plugins folder built for one test: manifests written from strings, libraries found in the
/// build folder.
struct PluginFolder {
    let root: String

    init() {
        root = TestSupport.temporaryFolder()
        try? FileManager.default.createDirectory(atPath: "\(root)/plugins", withIntermediateDirectories: true)
    }

    var folder: String { "\(root)/plugins" }

    /// Writes `plugins/<name>/manifest.yaml`.
    @discardableResult
    func add(_ name: String, manifest: String) -> String {
        let directory = "\(folder)/\(name)"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = "\(directory)/manifest.yaml"
        try? manifest.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Copies an example plugin's manifest from `Plugins/`.
    @discardableResult
    func addExample(_ name: String) -> String {
        let text = (try? String(contentsOfFile: "\(TestSupport.repositoryRoot)/Plugins/\(name)/manifest.yaml", encoding: .utf8)) ?? ""
        return add(name, manifest: text)
    }

    func host(overlays: [String: ToolOverlay] = [:], policy: ReloadPolicy = .perPlugin, aliasTTL: Duration = .seconds(86_400)) -> PluginHost {
        PluginHost(configuration: configuration(overlays: overlays, policy: policy, aliasTTL: aliasTTL), logger: TestSupport.logger)
    }

    func configuration(overlays: [String: ToolOverlay] = [:], policy: ReloadPolicy = .perPlugin, aliasTTL: Duration = .seconds(86_400)) -> PluginHostConfiguration {
        PluginHostConfiguration(
            folder: folder, librarySearchPath: [TestSupport.buildFolder], stateDirectory: "\(root)/state", toolOverlays: overlays,
            reloadPolicy: policy, aliasTTL: aliasTTL)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: root)
    }
}

/// A manifest for the misbehaving fixture plugin with the given tools section.
func misbehavingManifest(plugin: String = "misbehaving", config: String = "", tools: String) -> String {
    """
    plugin: \(plugin)
    version: 0.0.1
    library: libfixture_misbehaving.so
    \(config)
    tools:
    \(tools)
    """
}

extension PluginHost {
    /// The current catalog without taking a lease (a lease would hold up `shutdown`).
    var servingCatalog: any MCPCatalog {
        currentGeneration?.catalog ?? leaseCatalogWithoutHolding()
    }

    private func leaseCatalogWithoutHolding() -> any MCPCatalog {
        let lease = leaseCatalog()
        defer { lease.release() }
        return lease.catalog
    }
}
