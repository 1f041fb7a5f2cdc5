import Logging
import ServiceLifecycle
import UnixSignals

/// Starts reloads on SIGHUP and, when watching is on, on changes to the plugins folder or
/// config.yaml. Runs until the server shuts down.
struct ReloadTriggers: Service {
    let controller: ReloadController
    let logger: Logger

    func run() async throws {
        let configuration = controller.configuration
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await _ in await UnixSignalsSequence(trapping: .sighup) {
                        _ = await controller.reload(reason: "SIGHUP")
                    }
                }
                if configuration.reload.watch {
                    let watcher = FolderWatcher(
                        folder: configuration.plugins.folder, configFile: configuration.file,
                        debounce: .milliseconds(configuration.reload.debounceMilliseconds), logger: logger)
                    logger.info("watching \(configuration.plugins.folder) and \(configuration.file) for changes")
                    group.addTask {
                        await watcher.run { paths in
                            let shown = paths.prefix(3).joined(separator: ", ") + (paths.count > 3 ? " and \(paths.count - 3) more" : "")
                            _ = await controller.reload(reason: "file change: \(shown)")
                        }
                    }
                }
            }
        }
    }
}

/// Ends the long-lived notification streams when shutdown begins, so the HTTP server can drain.
struct NotificationStreamsShutdown: Service {
    let close: @Sendable () -> Void

    func run() async throws {
        try? await gracefulShutdown()
        close()
    }
}
