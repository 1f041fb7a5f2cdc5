#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How the host creates the folders and files that hold its state (the SQLite database, the
/// state folder with the admin socket and the private library copies): private to the server's
/// user whatever the umask, since the database holds password hashes and token digests. A
/// umask of 022 would otherwise make them readable by every local user. What already exists is
/// left as it is: an operator may have chosen its mode.
public enum PrivateState {
    /// Creates `path` and each missing folder above it with mode 0700.
    public static func createFolder(_ path: String) throws(PrivateStateError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += prefix.isEmpty || prefix.hasSuffix("/") ? String(component) : "/\(component)"
            var info = stat()
            if stat(prefix, &info) == 0 { continue }
            guard errno == ENOENT else { throw PrivateStateError(path: prefix, action: "inspect", errno: errno) }
            if mkdir(prefix, 0o700) != 0 {
                // Another process (a second instance starting) may have made it meanwhile.
                guard errno == EEXIST else { throw PrivateStateError(path: prefix, action: "create the folder", errno: errno) }
                continue
            }
            // mkdir applies the umask, which may take the owner's own bits away.
            guard chmod(prefix, 0o700) == 0 else { throw PrivateStateError(path: prefix, action: "restrict the folder", errno: errno) }
        }
    }

    /// Creates `path` empty with mode 0600 unless it exists; true when it was created here.
    /// Created before SQLite opens it, the database is private, and so are its `-wal`, `-shm`
    /// and `-journal` files: SQLite gives them the database file's mode.
    @discardableResult
    public static func createFile(_ path: String) throws(PrivateStateError) -> Bool {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            if errno == EEXIST { return false }
            throw PrivateStateError(path: path, action: "create", errno: errno)
        }
        defer { close(descriptor) }
        guard fchmod(descriptor, 0o600) == 0 else { throw PrivateStateError(path: path, action: "restrict", errno: errno) }
        return true
    }
}

/// A state folder or file that could not be created private, with the system's reason.
public struct PrivateStateError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let action: String
    public let reason: String

    init(path: String, action: String, errno code: Int32) {
        self.path = path
        self.action = action
        self.reason = String(cString: strerror(code))
    }

    public var description: String {
        "cannot \(action) \(path): \(reason) (check that the server's user may write to its state folder)"
    }
}
