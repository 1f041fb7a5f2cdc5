import HummingbirdBcrypt
import NIOPosix

/// bcrypt, off the cooperative thread pool: a hash costs about a quarter of a second of CPU.
public enum Passwords {
    public static func hash(_ password: String) async throws -> String {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: 12) }
    }

    public static func verify(_ password: String, hash: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
    }

    /// A hash of a random password, so that a login for an unknown user costs as much as one for a
    /// known user and the time taken does not tell which names exist.
    public static let decoy = Bcrypt.hash(Secrets.make(prefix: ""), cost: 12)
}
