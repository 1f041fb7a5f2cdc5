import Synchronization

/// Requests being served, so that `notifications/cancelled` (which arrives as a separate HTTP
/// request in stateless mode) can find them. Keyed by owner and request id: a caller can only
/// ever cancel their own requests.
final class InFlightRequests: Sendable {
    private struct Key: Hashable {
        let owner: String
        let id: RequestID
    }

    private let signals = Mutex<[Key: [CancellationSignal]]>([:])

    func begin(owner: String, id: RequestID, signal: CancellationSignal) {
        signals.withLock { $0[Key(owner: owner, id: id), default: []].append(signal) }
    }

    func end(owner: String, id: RequestID, signal: CancellationSignal) {
        signals.withLock { signals in
            let key = Key(owner: owner, id: id)
            signals[key]?.removeAll { $0 === signal }
            if signals[key]?.isEmpty == true { signals[key] = nil }
        }
    }

    /// Cancels the caller's requests with this id; unknown or finished ids are ignored.
    func cancel(owner: String, id: RequestID) {
        let matching = signals.withLock { $0[Key(owner: owner, id: id)] ?? [] }
        for signal in matching { signal.cancel() }
    }
}
