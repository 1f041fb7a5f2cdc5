import Synchronization

/// Outbound work whose answer every caller asking for the same key shares: one run per key at a
/// time however many callers wait for it, at most `limit` runs at once (beyond that, `Busy`), and
/// the failures `remembered` picks answered from memory for a while. A flood of requests naming
/// made-up tokens or documents cannot turn into a flood of requests to someone else's server.
final class SharedFetches<Value: Sendable>: Sendable {
    struct Busy: Error, CustomStringConvertible {
        let limit: Int
        var description: String { "more than \(limit) outbound requests of this kind are under way" }
    }

    private struct State {
        var running: [String: Task<Value, any Error>] = [:]
        var failed: [String: (error: any Error, until: ContinuousClock.Instant)] = [:]
    }

    let limit: Int
    private let memory: Duration
    private let remembered: @Sendable (any Error) -> Bool
    private let state = Mutex(State())

    init(limit: Int, remembering remembered: @escaping @Sendable (any Error) -> Bool, for memory: Duration) {
        self.limit = limit
        self.remembered = remembered
        self.memory = memory
    }

    func value(for key: String, _ work: @escaping @Sendable () async throws -> Value) async throws -> Value {
        let now = ContinuousClock.now
        let task = try state.withLock { state throws -> Task<Value, any Error> in
            if let failure = state.failed[key], failure.until > now { throw failure.error }
            if let running = state.running[key] { return running }
            guard state.running.count < limit else { throw Busy(limit: limit) }
            let task = Task { try await work() }
            state.running[key] = task
            return task
        }
        do {
            let value = try await task.value
            finish(key, task, failure: nil)
            return value
        } catch {
            finish(key, task, failure: error)
            throw error
        }
    }

    /// Every waiter calls this; the first one for `task` does the bookkeeping, and a late one
    /// leaves alone what a newer run of the key has done since.
    private func finish(_ key: String, _ task: Task<Value, any Error>, failure: (any Error)?) {
        let remember = failure.map(remembered) == true && memory > .zero
        state.withLock { state in
            guard state.running[key] == task else { return }
            state.running[key] = nil
            if remember, let failure {
                if state.failed.count >= 50_000 { state.failed.removeAll(keepingCapacity: true) }
                state.failed[key] = (failure, ContinuousClock.now + memory)
            }
        }
    }
}
