import ArgumentParser
import Foundation

/// `plugboard dev DIR`: build a plugin package, serve it with watch on, rebuild and reload on
/// every source change.
struct Dev: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build the plugin package in DIR (swift build, or make), serve it with plugins.watch on, and rebuild and reload it on every source change.",
        discussion: """
            The server runs from a temporary folder (config, database, plugins) with auth.mode none and the \
            plugin isolated in a worker process, so a crash while developing restarts the worker instead of \
            stopping the server. Sources are polled every second; a failed build keeps the last good library serving.
            """)

    @Argument(help: "The plugin package: a folder with manifest.yaml and Package.swift or a Makefile.")
    var dir: String = "."

    @Option(help: "Where to serve MCP (loopback only).")
    var listen = "127.0.0.1:8080"

    @Option(help: "The owner every call runs for.")
    var owner = "dev"

    func run() async throws {
        let package = try DevPackage(folder: URL(fileURLWithPath: dir).standardizedFileURL)
        let stage = try DevStage(plugin: package.manifest.plugin, listen: listen, owner: owner)
        say("building \(package.folder.path) (\(package.kind == .swift ? "swift build" : "make"))")
        guard package.build() else { throw ValidationError("the first build failed; fix it and run `plugboard dev` again") }
        try stage.install(package)
        let server = try stage.startServer()
        say("serving \(package.manifest.plugin) at http://\(listen)/mcp (temporary files in \(stage.root.path)); Ctrl-C stops")
        DevSignals.stopOnInterrupt(server: server, stage: stage)
        var seen = package.sourceStamps()
        while server.isRunning {
            try await Task.sleep(for: .seconds(1))
            let now = package.sourceStamps()
            guard now != seen else { continue }
            seen = now
            say("change seen: rebuilding")
            if package.build() {
                do {
                    try stage.install(package)
                    say("rebuilt; the server reloads it")
                } catch {
                    say("rebuilt, but the library could not be staged: \(error)")
                }
            } else {
                say("build failed; the last good build keeps serving")
            }
        }
        stage.remove()
        throw ExitCode(server.terminationStatus)
    }
}

/// Progress lines go out at once: the build's and the server's own output interleave with them,
/// and a buffered line would show up after the output it announces.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
