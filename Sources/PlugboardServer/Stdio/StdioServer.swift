import Foundation
import Logging
import PlugboardMCP
import Synchronization

extension PlugboardApp {
    /// Serves MCP over stdin/stdout for one local owner until stdin closes.
    public func runStdio() async throws {
        try await start()
        let transport = StdioTransport(server: server, caller: localCaller, logger: logger)
        let output = StandardOutput()
        await withTaskGroup(of: Void.self) { group in
            // Reloads (SIGHUP, file changes) apply here too, and the client hears about them.
            group.addTask { try? await ReloadTriggers(controller: reloads, logger: logger).run() }
            await transport.run(lines: StandardInput.lines()) { message in output.writeLine(message) }
            group.cancelAll()
        }
        await stop()
    }
}

/// Lines of standard input, read on a thread of their own because reading blocks.
enum StandardInput {
    static func lines() -> AsyncStream<String> {
        AsyncStream { continuation in
            let thread = Thread {
                while let line = readLine(strippingNewline: true) {
                    continuation.yield(line)
                }
                continuation.finish()
            }
            thread.name = "plugboard-stdin"
            thread.start()
        }
    }
}

/// Standard output, one whole message per line even when several tasks answer at once.
final class StandardOutput: Sendable {
    private let lock = Mutex(())

    func writeLine(_ bytes: [UInt8]) {
        lock.withLock { _ in
            FileHandle.standardOutput.write(Data(bytes + [0x0A]))
        }
    }
}
