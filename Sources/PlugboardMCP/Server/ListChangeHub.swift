import Synchronization

/// Fans list changes out to every listening client: handshake-era GET streams and 2026-07-28
/// `subscriptions/listen` streams. Changes are published by whoever swaps catalogs (a reload).
public final class ListChangeHub: Sendable {
    private struct State {
        var nextID: UInt64 = 0
        var listeners: [UInt64: AsyncStream<ListChanges>.Continuation] = [:]
        var closed = false
    }

    private let state = Mutex(State())

    public init() {}

    /// A stream of changes until `unsubscribe` or `closeAll`.
    public func subscribe() -> (id: UInt64, changes: AsyncStream<ListChanges>) {
        let (stream, continuation) = AsyncStream.makeStream(of: ListChanges.self, bufferingPolicy: .bufferingNewest(16))
        let id = state.withLock { state -> UInt64? in
            guard !state.closed else { return nil }
            state.nextID += 1
            state.listeners[state.nextID] = continuation
            return state.nextID
        }
        guard let id else {
            continuation.finish()
            return (0, stream)
        }
        return (id, stream)
    }

    public func unsubscribe(_ id: UInt64) {
        state.withLock { $0.listeners.removeValue(forKey: id) }?.finish()
    }

    public func publish(_ changes: ListChanges) {
        guard !changes.isEmpty else { return }
        for listener in state.withLock({ Array($0.listeners.values) }) { listener.yield(changes) }
    }

    public var listenerCount: Int { state.withLock { $0.listeners.count } }

    /// Ends every stream (server shutdown) and refuses new listeners.
    public func closeAll() {
        let listeners = state.withLock { state in
            state.closed = true
            defer { state.listeners = [:] }
            return Array(state.listeners.values)
        }
        for listener in listeners { listener.finish() }
    }
}
