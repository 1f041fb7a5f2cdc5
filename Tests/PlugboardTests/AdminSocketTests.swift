import Foundation
import Testing

@testable import PlugboardServer

/// The admin socket needs no token because only the server's user can reach it: it lives in a
/// folder only that user can open.
@Suite("Admin socket")
struct AdminSocketTests {
    func mode(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
    }

    @Test("its folder is created private (0700); a stale socket file is cleared; a live one is refused")
    func claim() throws {
        let root = TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let socket = "\(root)/state/admin.sock"
        #expect(try AdminSocket.claim(socket) == nil, "a folder it creates needs no warning")
        #expect(mode("\(root)/state") == 0o700)

        // Left by a server that died: nothing listens on it.
        let stale = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #expect(bind(stale, socket) == 0)
        close(stale)
        _ = try AdminSocket.claim(socket)
        #expect(!FileManager.default.fileExists(atPath: socket))

        let live = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(live) }
        #expect(bind(live, socket) == 0 && listen(live, 1) == 0)
        #expect(throws: AdminSocketInUse.self) { try AdminSocket.claim(socket) }
    }

    @Test("an existing folder open to others is left as it is, with a warning that says how to close it")
    func sharedFolder() throws {
        let root = TestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: "\(root)/shared", withIntermediateDirectories: false)
        chmod("\(root)/shared", 0o755)
        let warning = try AdminSocket.claim("\(root)/shared/admin.sock")
        #expect(mode("\(root)/shared") == 0o755, "a folder it did not create is not its to change")
        #expect(warning?.contains("chmod 700 \(root)/shared") == true, "\(warning ?? "no warning")")
        chmod("\(root)/shared", 0o700)
        #expect(try AdminSocket.claim("\(root)/shared/admin.sock") == nil)
    }

    private func bind(_ descriptor: Int32, _ path: String) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: Array(path.utf8))
            raw[path.utf8.count] = 0
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }
}
