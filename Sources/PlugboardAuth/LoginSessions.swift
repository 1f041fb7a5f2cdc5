import Foundation
import Synchronization

/// Authorization requests waiting for login and consent, and the browser sessions of users who
/// logged in. Kept in memory: a pending request lives ten minutes, a session twelve hours (behind
/// a load balancer, route the login pages of one browser to one instance).
public final class LoginSessions: Sendable {
    public struct Pending: Sendable {
        public var request: AuthorizationRequest
        /// Set once a user logged in for this request; consent must come from the same user.
        public var user: String?
        var created: ContinuousClock.Instant
    }

    private struct Session {
        var user: String
        var until: ContinuousClock.Instant
    }

    private let pending = Mutex<[String: Pending]>([:])
    private let sessions = Mutex<[String: Session]>([:])
    private static let pendingLifetime = Duration.seconds(600)
    private static let sessionLifetime = Duration.seconds(12 * 3600)
    private static let maxEntries = 20_000

    public init() {}

    /// Stores a request and returns its id (the hidden `request` field of the pages).
    public func add(_ request: AuthorizationRequest) -> String {
        let id = Secrets.make(prefix: "")
        let now = ContinuousClock.now
        pending.withLock { entries in
            if entries.count >= Self.maxEntries { entries = entries.filter { now - $0.value.created < Self.pendingLifetime } }
            // Still full of live requests: someone is flooding /authorize; the memory stays bounded.
            while entries.count >= Self.maxEntries, let any = entries.keys.first { entries[any] = nil }
            entries[id] = Pending(request: request, user: nil, created: now)
        }
        return id
    }

    public func pending(_ id: String) -> Pending? {
        pending.withLock { entries in
            guard let entry = entries[id] else { return nil }
            guard ContinuousClock.now - entry.created < Self.pendingLifetime else {
                entries[id] = nil
                return nil
            }
            return entry
        }
    }

    public func setUser(_ user: String, for id: String) {
        pending.withLock { $0[id]?.user = user }
    }

    /// Ends a request once it was answered: its id cannot be submitted twice.
    public func finish(_ id: String) -> Pending? {
        pending.withLock { $0.removeValue(forKey: id) }
    }

    public func startSession(for user: String) -> String {
        let id = Secrets.make(prefix: "")
        let now = ContinuousClock.now
        sessions.withLock { entries in
            if entries.count >= Self.maxEntries { entries = entries.filter { $0.value.until > now } }
            while entries.count >= Self.maxEntries, let any = entries.keys.first { entries[any] = nil }
            entries[id] = Session(user: user, until: now + Self.sessionLifetime)
        }
        return id
    }

    public func user(ofSession id: String) -> String? {
        sessions.withLock { entries in
            guard let session = entries[id], session.until > ContinuousClock.now else { return nil }
            return session.user
        }
    }
}

/// Failed logins per (user name, peer address): after `limit` failures within `window`, further
/// attempts are refused until the oldest failure ages out.
public final class LoginThrottle: Sendable {
    private let failures = Mutex<[String: [ContinuousClock.Instant]]>([:])
    private let limit: Int
    private let window: Duration

    public init(limit: Int = 5, window: Duration = .seconds(300)) {
        self.limit = limit
        self.window = window
    }

    /// Counts an attempt before the password is checked, so that guesses sent in parallel count
    /// too; false when the limit is reached. A successful sign-in hands its attempt back.
    public func begin(user: String, peer: String) -> Bool {
        let key = "\(user.lowercased())|\(peer)"
        let now = ContinuousClock.now
        return failures.withLock { entries in
            let recent = (entries[key] ?? []).filter { now - $0 < window }
            guard recent.count < limit else {
                entries[key] = recent
                return false
            }
            if entries.count >= 50_000 { entries = entries.filter { $0.value.contains { now - $0 < window } } }
            entries[key] = recent + [now]
            return true
        }
    }

    public func succeeded(user: String, peer: String) {
        let key = "\(user.lowercased())|\(peer)"
        failures.withLock { entries in
            entries[key]?.removeLast()
            if entries[key]?.isEmpty == true { entries[key] = nil }
        }
    }
}

/// A fixed-window rate limit per key (client registration per peer address).
public final class RateLimit: Sendable {
    private let counts = Mutex<(window: ContinuousClock.Instant, counts: [String: Int])>((.now, [:]))
    private let limit: Int
    private let window: Duration

    public init(limit: Int, per window: Duration) {
        self.limit = limit
        self.window = window
    }

    /// Counts one event for `key`; false once the key is over its limit in the current window.
    public func allow(_ key: String) -> Bool {
        counts.withLock { state in
            let now = ContinuousClock.now
            if now - state.window >= window { state = (now, [:]) }
            state.counts[key, default: 0] += 1
            return state.counts[key, default: 0] <= limit
        }
    }
}
