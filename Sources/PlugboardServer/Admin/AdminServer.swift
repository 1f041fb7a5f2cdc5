import Foundation
import Hummingbird
import Logging
import PlugboardContracts
import PlugboardJSON
import PlugboardPlugins

/// The admin endpoint `plugboard reload` and `plugboard status` talk to: HTTP on a Unix socket
/// that only the server's user can open (mode 0600), so it needs no token and is never reachable
/// from the network.
enum AdminServer {
    static func application(socket: String, controller: ReloadController, plugins: PluginHost, logger: Logger) throws -> some ApplicationProtocol {
        if let exposure = try AdminSocket.claim(socket) { logger.warning("\(exposure)") }
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
    /// Readies the socket's place: its folder is created private (0700), so the socket is never
    /// reachable by others, not even between `bind` and the chmod after it. A stale socket left by
    /// a server that died is removed; a live server answering on it is refused.
    /// - Returns: a warning when the folder already existed and others may enter it. It is left
    ///   as it is (it may be shared, like /tmp); the socket is still restricted once bound.
    static func claim(_ path: String) throws -> String? {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var exposure: String?
        if !FileManager.default.fileExists(atPath: folder) {
            try PrivateState.createFolder(folder)
        } else if let mode = (try? FileManager.default.attributesOfItem(atPath: folder))?[.posixPermissions] as? Int, mode & 0o077 != 0 {
            exposure =
                "the admin socket's folder \(folder) is open to other users (mode \(String(mode, radix: 8))): "
                + "the socket is restricted to its owner once bound, but until then anyone allowed by the umask could connect; "
                + "run `chmod 700 \(folder)` or set plugins.admin_socket in a private folder"
        }
        guard FileManager.default.fileExists(atPath: path) else { return exposure }
        if accepts(path) { throw AdminSocketInUse(path: path) }
        try FileManager.default.removeItem(atPath: path)
        return exposure
    }

    /// Whether a process listens on the socket at `path` (only a live server accepts).
    private static func accepts(_ path: String) -> Bool {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        } == 0
    }
}

struct AdminSocketInUse: Error, CustomStringConvertible {
    let path: String
    var description: String { "another plugboard is running with the admin socket \(path); stop it or set plugins.admin_socket" }
}
