import Foundation
import Logging
import PlugboardContracts
@testable import PlugboardData
import PlugboardPlugins
import Testing

/// The host's state is private whatever the umask: the SQLite database, its WAL and SHM, and the
/// folders the host makes. The test process keeps its umask (usually 022, under which SQLite
/// and mkdir alone give 0644 and 0755): changing it would race with the tests running beside.
@Suite("State files and folders are private", .removesTemporaryFolders)
struct PrivateStateTests {
    static func mode(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return try #require(attributes[.posixPermissions] as? Int)
    }

    @Test("the SQLite store: its folders 0700, the database and its -wal and -shm 0600")
    func sqliteStore() async throws {
        let root = TestSupport.temporaryFolder()
        let path = "\(root)/state/nested/plugboard.db"
        let store = try SQLiteStore(path: path)
        _ = try await store.migrate()
        #expect(try Self.mode("\(root)/state") == 0o700)
        #expect(try Self.mode("\(root)/state/nested") == 0o700)
        #expect(try Self.mode(path) == 0o600)
        // WAL mode with a write done: both files exist while the connection is open.
        #expect(try Self.mode(path + "-wal") == 0o600)
        #expect(try Self.mode(path + "-shm") == 0o600)
        withExtendedLifetime(store) {}
    }

    @Test("the plugins' SQLite database opened first by the scoped data service is private too")
    func scopedData() throws {
        let path = TestSupport.temporaryFolder() + "/data/plugins.db"
        let data = try SQLiteScopedData(path: path, logger: TestSupport.logger)
        #expect(try Self.mode(path) == 0o600)
        withExtendedLifetime(data) {}
    }

    @Test("an existing database keeps the mode its operator gave it")
    func existingFileKept() throws {
        let path = TestSupport.temporaryFolder() + "/shared.db"
        #expect(FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o640]))
        #expect(try !PrivateState.createFile(path))
        #expect(try Self.mode(path) == 0o640)
    }

    @Test("the private library store makes the state folder above it 0700")
    func libraryStore() throws {
        let state = TestSupport.temporaryFolder() + "/state"
        let copy = try LibraryStore(directory: state + "/libraries").privateCopy(of: TestSupport.library("demo"), plugin: "demo")
        #expect(try Self.mode(state) == 0o700)
        #expect(try Self.mode(state + "/libraries") == 0o700)
        #expect(FileManager.default.fileExists(atPath: copy.path))
    }

    @Test("a folder that cannot be made is refused with the path and the reason")
    func refusal() throws {
        let file = TestSupport.temporaryFolder() + "/a-file"
        #expect(FileManager.default.createFile(atPath: file, contents: nil))
        let error = #expect(throws: PrivateStateError.self) { try PrivateState.createFolder(file + "/below") }
        #expect(error?.description.contains("\(file)/below") == true, "\(String(describing: error))")
    }
}
