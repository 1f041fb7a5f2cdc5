import Foundation
import PlugboardContracts

/// The database file and its folder, created private before SQLite opens them.
enum SQLiteFiles {
    /// SQLite would create the database 0644 under the usual umask, and its `-wal`, `-shm` and
    /// `-journal` files with the database's mode: every local user could read the password
    /// hashes and token digests. A database that already exists keeps its mode.
    static func createPrivate(_ path: String) throws {
        try PrivateState.createFolder(URL(fileURLWithPath: path).deletingLastPathComponent().path)
        try PrivateState.createFile(path)
    }
}
