import ArgumentParser
import Foundation
import PlugboardJSON

/// The temporary server `plugboard dev` runs: its config, database and plugins folder.
final class DevStage: Sendable {
    let root: URL
    let plugin: String

    init(plugin: String, listen: String, owner: String) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("plugboard-dev-\(ProcessInfo.processInfo.processIdentifier)")
        self.plugin = plugin
        try FileManager.default.createDirectory(at: root.appendingPathComponent("plugins/\(plugin)"), withIntermediateDirectories: true)
        let config = """
            # Written by `plugboard dev`; removed when it stops.
            server: { listen: \(JSONValue.string(listen).jsonString) }
            auth: { mode: none, local_owner: \(JSONValue.string(owner).jsonString) }
            database: { url: "sqlite:state/plugboard.db" }
            plugins:
              folder: plugins
              state_dir: state
              watch: true
              # A crash while developing restarts the worker instead of stopping the server.
              default_isolation: process
            logging: { level: info }

            """
        try Data(config.utf8).write(to: configFile)
    }

    var configFile: URL { root.appendingPathComponent("config.yaml") }

    /// Copies the manifest and the built library in, each written under a hidden name and then
    /// renamed into place: the watcher ignores hidden files, so it never loads half a library.
    func install(_ package: DevPackage) throws {
        let target = root.appendingPathComponent("plugins/\(plugin)")
        let manifest = try DevPackage.readManifest(package.folder)
        for (source, name) in [(package.builtLibrary, manifest.library), (package.folder.appendingPathComponent("manifest.yaml"), "manifest.yaml")] {
            let temporary = target.appendingPathComponent(".\(name).tmp")
            try? FileManager.default.removeItem(at: temporary)
            try FileManager.default.copyItem(at: source, to: temporary)
            guard rename(temporary.path, target.appendingPathComponent(name).path) == 0 else {
                throw ValidationError("cannot move \(temporary.path) into place: \(String(cString: strerror(errno)))")
            }
        }
    }

    /// `plugboard serve` on the staged config, as a child process sharing this terminal.
    func startServer() throws -> Process {
        let server = Process()
        server.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
        if let resolved = Bundle.main.executableURL { server.executableURL = resolved }
        server.arguments = ["serve", "--config", configFile.path]
        try server.run()
        return server
    }

    func remove() {
        try? FileManager.default.removeItem(at: root)
    }
}

/// Ctrl-C (or SIGTERM) stops the server first, then removes the temporary folder.
enum DevSignals {
    // Written once, from the command's task before the rebuild loop starts; only kept so the
    // sources stay alive for the life of the process.
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    static func stopOnInterrupt(server: Process, stage: DevStage) {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .main)
            source.setEventHandler {
                if server.isRunning { server.terminate() }
                server.waitUntilExit()
                stage.remove()
                exit(0)
            }
            source.resume()
            sources.append(source)
        }
    }
}
