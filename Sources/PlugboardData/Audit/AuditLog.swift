import Logging
import PlugboardPlugins
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
    public func start(interval: Duration = .milliseconds(200)) {
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                await self?.flush()
            }
        }
        flusher.withLock { $0 = task }
    }

    public func stop() async {
        flusher.withLock { $0 }?.cancel()
        await flush()
    }

    public func flush() async {
        let batch = pending.withLock { pending -> [AuditEvent] in
            defer { pending = [] }
            return pending
        }
        guard !batch.isEmpty else { return }
        do {
            try await store.append(batch)
        } catch {
            logger.error("cannot write \(batch.count) audit record(s): \(error)")
        }
    }
}
