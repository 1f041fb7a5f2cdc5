import Foundation
import PlugboardData
import Synchronization

/// What the resource server asks of a bearer token.
public protocol BearerVerifier: Sendable {
    /// The token's owner, client and scopes if it is valid for `resource` now.
    func verify(_ token: String, resource: String) async throws -> BearerOutcome
}

public enum BearerOutcome: Sendable, Equatable {
    case valid(AccessRecord)
    /// Unknown, expired, revoked, for a disabled user or for another resource: the reason is
    /// logged, never told to the client.
    case invalid(String)
}

/// Too many new tokens are being checked with the issuer at once: the client should retry in a
/// moment (503), not sign in again; common under a flood of made-up tokens, so not worth an error log.
public struct VerifierBusy: Error, Sendable {}

/// Verifies bearer tokens for the resource server. A verified token is remembered for a short
/// time so the steady state costs no database round trip; revocation through this instance
/// forgets it at once, and a revocation elsewhere (another instance, `plugboard user disable`)
/// takes effect within `cacheSeconds`.
public final class TokenVerifier: BearerVerifier {
    private struct Entry {
        var record: AccessRecord
        var until: ContinuousClock.Instant
    }

    private let store: AuthStore
    private let cacheSeconds: Int
    private let cache = Mutex<[String: Entry]>([:])
    private static let maxEntries = 50_000

    public init(store: AuthStore, cacheSeconds: Int = 30) {
        self.store = store
        self.cacheSeconds = cacheSeconds
    }

    public func verify(_ token: String, resource: String) async throws -> BearerOutcome {
        let digest = Secrets.digest(token)
        let now = ContinuousClock.now
        let record: AccessRecord
        if let cached = cache.withLock({ $0[digest] }), cached.until > now {
            record = cached.record
        } else {
            guard let found = try await store.access(digest: digest) else { return .invalid("unknown token") }
            record = found
            if record.active {
                let entry = Entry(record: record, until: now.advanced(by: .seconds(cacheSeconds)))
                cache.withLock { entries in
                    if entries.count >= Self.maxEntries { entries.removeAll(keepingCapacity: true) }
                    entries[digest] = entry
                }
            }
        }
        guard record.active else { return .invalid("the grant was revoked or the user disabled") }
        if let expiresAt = record.expiresAt, expiresAt < Int64(Date().timeIntervalSince1970) { return .invalid("token expired") }
        // API tokens are this server's own under any URL; OAuth tokens carry their audience.
        if !record.resource.isEmpty, !ResourceIdentifier.matches(record.resource, canonical: resource) {
            return .invalid("token issued for \(record.resource), not \(resource)")
        }
        return .valid(record)
    }

    public func forget(grantID: String) {
        cache.withLock { entries in entries = entries.filter { $0.value.record.grantID != grantID } }
    }
}
