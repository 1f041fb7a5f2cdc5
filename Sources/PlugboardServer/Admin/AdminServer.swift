import Foundation
import Hummingbird
import Logging
import PlugboardJSON
import PlugboardPlugins

/// The admin endpoint `plugboard reload` and `plugboard status` talk to: HTTP on a Unix socket
/// that only the server's user can open (mode 0600), so it needs no token and is never reachable
/// from the network.
enum AdminServer {
    static func application(socket: String, controller: ReloadController, plugins: PluginHost, logger: Logger) throws -> some ApplicationProtocol {
        try AdminSocket.claim(socket)
        let router = Router()
        router.post("/reload") { _, _ -> Response in
            let outcome = await controller.reload(reason: "plugboard reload")
            return json(outcome.json, status: outcome.applied ? .ok : .unprocessableContent)
        }
        router.get("/status") { _, _ -> Response in
            json(plugins.status.json, status: .ok)
        }
        return Application(
            router: router,
            configuration: .init(address: .unixDomainSocket(path: socket), serverName: "plugboard-admin"),
            onServerRunning: { _ in
                if chmod(socket, 0o600) != 0 {
                    logger.error("cannot restrict the admin socket \(socket) to its owner: \(String(cString: strerror(errno)))")
                }
            },
            logger: logger)
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: value.jsonBytes + [0x0A])))
    }
}

/// The admin socket's file.
enum AdminSocket {
    /// Removes a stale socket left by a server that died; refuses if a live server answers on it.
    static func claim(_ path: String) throws {
        try FileManager.default.createDirectory(
            atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path, withIntermediateDirectories: true)
        guard FileManager.default.fileExists(atPath: path) else { return }
        if (try? UnixSocketHTTP.request(socket: path, method: "GET", path: "/status")) != nil {
            throw AdminSocketInUse(path: path)
        }
        try FileManager.default.removeItem(atPath: path)
    }
}

struct AdminSocketInUse: Error, CustomStringConvertible {
    let path: String
    var description: String { "another plugboard is running with the admin socket \(path); stop it or set plugins.admin_socket" }
}
