import Crypto
import Foundation
import PlugboardContracts

/// Why the host's database could not be brought up to date, in terms the operator can act on.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }

    static func seed(_ path: String, failedWith reason: String) -> StoreError {
        StoreError(
            "the seed \(path) failed: \(reason). Nothing of it was kept. A seed runs once per distinct content, so an edited seed runs again "
                + "over what the first run created: make its statements idempotent (CREATE TABLE IF NOT EXISTS, INSERT ... ON CONFLICT DO NOTHING) "
                + "or apply the change by hand and drop database.seed")
    }
}

/// A seed SQL file, remembered by the digest of its content.
enum SeedFile {
    static func read(_ path: String) throws -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw StoreError("cannot read the seed file \(path) (database.seed): \(error.localizedDescription)")
        }
    }

    static func digest(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).hexString
    }
}
