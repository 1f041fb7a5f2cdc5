import Synchronization

/// Requests being served, so that `notifications/cancelled` (which arrives as a separate HTTP
/// request in stateless mode) can find them. Keyed by owner, session id (when the client keeps
/// one) and request id: a caller can only ever cancel their own requests, and clients that keep
/// their session id cannot cancel each other's.
final class InFlightRequests: Sendable {
    struct Key: Hashable {
        let owner: String
        let session: String?
        let id: RequestID
    }

    private let signals = Mutex<[Key: [CancellationSignal]]>([:])

    func begin(_ key: Key, signal: CancellationSignal) {
        signals.withLock { $0[key, default: []].append(signal) }
    }

    func end(_ key: Key, signal: CancellationSignal) {
        signals.withLock { signals in
            signals[key]?.removeAll { $0 === signal }
            if signals[key]?.isEmpty == true { signals[key] = nil }
        }
    }

    /// Cancels the matching requests; unknown or finished ids are ignored.
    func cancel(_ key: Key) {
        let matching = signals.withLock { $0[key] ?? [] }
        for signal in matching { signal.cancel() }
    }
}
