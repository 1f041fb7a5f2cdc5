import Crypto
import Foundation
import PlugboardContracts

/// Private, content-addressed copies of plugin libraries.
///
/// The host never dlopens the file a user drops into the plugins folder: glibc caches libraries
/// by path and inode (a changed file at the same path would not be reloaded) and overwriting a
/// mapped library crashes the process. Each distinct content gets its own file, named by its
/// SHA-256, written once and never modified.
public struct LibraryStore: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }


    /// The private copy of `path` and the content's digest. Refuses a file that changes while it
    /// is read or is not a complete shared object for this machine: nothing maps it then.
    public func privateCopy(of path: String, plugin: String) throws -> (path: String, digest: String) {
        let before = try Self.stamp(path)
        let contents = try Data(contentsOf: URL(fileURLWithPath: path))
        guard try Self.stamp(path) == before, before.size == contents.count else {
            throw ELFCheck.Problem.incomplete("it changed while it was being read")
        }
        try ELFCheck.validate(contents)
        let digest = SHA256.hash(data: contents).hexString
        let target = "\(directory)/\(plugin)-\(digest.prefix(32)).so"
        let manager = FileManager.default
        if let attributes = try? manager.attributesOfItem(atPath: target),
            (attributes[.size] as? NSNumber)?.intValue == contents.count
        {
            return (target, digest)
        }
        // The state folder above it too, if this makes it: 0700 whatever the umask.
        try PrivateState.createFolder(directory)
        // Written beside the target and renamed into place, so a concurrent loader never maps a
        // half-written copy.
        let temporary = "\(target).\(ProcessInfo.processInfo.processIdentifier).\(UInt64.random(in: 0...UInt64.max)).tmp"
        try contents.write(to: URL(fileURLWithPath: temporary))
        try manager.setAttributes([.posixPermissions: 0o555], ofItemAtPath: temporary)
        if rename(temporary, target) != 0 {
            let reason = String(cString: strerror(errno))
            try? manager.removeItem(atPath: temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "cannot place \(target): \(reason)"])
        }
        return (target, digest)
    }
}

extension LibraryStore {
    /// Size and modification time: what changes while a file is being written.
    private static func stamp(_ path: String) throws -> Stamp {
        var info = stat()
        guard stat(path, &info) == 0 else { throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: path]) }
        return Stamp(size: Int(info.st_size), seconds: info.st_mtim.tv_sec, nanoseconds: info.st_mtim.tv_nsec)
    }

    private struct Stamp: Equatable {
        let size: Int
        let seconds: Int
        let nanoseconds: Int
    }
}
