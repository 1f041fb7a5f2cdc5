import Logging
import PlugboardContracts
import Synchronization

/// Collects audit events from calls and writes them to the store in batches, off the call path:
/// recording costs a lock and an append.
public final class AuditLog: AuditSink {
    private let store: any HostStore
    private let pending = Mutex<[AuditEvent]>([])
    private let logger: Logger
    private let flusher = Mutex<Task<Void, Never>?>(nil)

    public init(store: any HostStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    public func record(_ event: AuditEvent) {
        pending.withLock { $0.append(event) }
    }

    /// Writes pending events every `interval` until cancelled; call `flush()` once more at shutdown.
    /// While writes fail (the database is down) the wait doubles up to `ceiling`, so an outage
    /// costs a retry now and then instead of one every interval; the first write that succeeds
    /// brings the interval back.
    /// - Parameter sleep: how the flusher waits; tests pass one that records the delays.
    public func start(
        interval: Duration = .milliseconds(200), ceiling: Duration = .seconds(30),
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        let backoff = AuditFlushBackoff(interval: interval, ceiling: ceiling)
        let task = Task { [weak self] in
            var failures = 0
            while !Task.isCancelled {
                try? await sleep(backoff.delay(afterFailures: failures))
                guard let self, !Task.isCancelled else { return }
                failures = await self.flush() ? 0 : failures + 1
            }
        }
        flusher.withLock { $0 = task }
    }

    public func stop() async {
        // Wait for a flush in flight too: it holds records no longer in `pending`.
        let task = flusher.withLock { $0 }
        task?.cancel()
        await task?.value
        await flush()
        let lost = pending.withLock { $0.count }
        if lost > 0 { logger.error("\(lost) audit record(s) could not be written before shutdown") }
    }

    /// Writes what is pending. Returns false if the store refused the write (the events are kept).
    @discardableResult
    public func flush() async -> Bool {
        let batch = pending.withLock { pending -> [AuditEvent] in
            defer { pending = [] }
            return pending
        }
        guard !batch.isEmpty else { return true }
        // Shutdown cancels the tasks that flush; the write must not be cancelled with them (the
        // PostgreSQL pool gives up on a cancelled task), so it runs in a task of its own.
        let store = self.store
        do {
            try await Task { try await store.append(batch) }.value
            return true
        } catch {
            // Kept for the next flush, up to a bound: a database that stays down must not take the memory with it.
            let dropped = pending.withLock { pending -> Int in
                pending = batch + pending
                let excess = max(0, pending.count - Self.maximumPending)
                pending.removeFirst(excess)
                return excess
            }
            logger.error("cannot write \(batch.count) audit record(s), will retry\(dropped > 0 ? "; dropped the \(dropped) oldest" : ""): \(error)")
            return false
        }
    }

    static let maximumPending = 100_000
}
