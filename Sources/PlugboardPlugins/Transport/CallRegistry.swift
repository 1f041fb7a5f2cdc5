import Logging
import PlugboardMCP
import Synchronization

/// The calls in flight across all plugins, by call id.
///
/// Plugins finish calls through a C callback that carries only the id, from any thread. Looking
/// the id up here (instead of trusting a pointer) is what makes a second `complete`, a late
/// `complete` after a timeout, or a made-up id harmless: the lookup fails and is logged.
final class CallRegistry: Sendable {
    struct Entry {
        let plugin: String
        let owner: String
        let scope: QueryScope
        let meter: CallMeter?
        let continuation: CheckedContinuation<PluginOutcome, Never>
        let progress: ProgressSink?
        let deadline: ContinuousClock.Instant
        let cancelPlugin: @Sendable () -> Void
        var lastProgress = -Double.infinity
    }

    private let entries = Mutex<[UInt64: Entry]>([:])
    private let nextID = Atomic<UInt64>(1)
    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    func makeID() -> UInt64 {
        nextID.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    func register(_ id: UInt64, _ entry: Entry) {
        entries.withLock { $0[id] = entry }
    }

    /// Delivers a plugin's completion. Returns false (and logs) for ids that are not in flight.
    @discardableResult
    func complete(_ id: UInt64, status: Int32, bytes: [UInt8], from plugin: String) -> Bool {
        guard let entry = entries.withLock({ $0.removeValue(forKey: id) }) else {
            logger.warning(
                "plugin completed a call that is not in flight (completed twice, or after its timeout or cancellation); ignored",
                metadata: ["plugin": "\(plugin)", "call": "\(id)"])
            return false
        }
        entry.continuation.resume(returning: .completed(status: status, bytes: bytes))
        return true
    }

    /// Ends a call with `outcome` without involving the plugin (its worker is gone).
    func finish(_ id: UInt64, with outcome: PluginOutcome) {
        entries.withLock { $0.removeValue(forKey: id) }?.continuation.resume(returning: outcome)
    }

    /// Ends a call on the client's behalf and tells the plugin to stop.
    func cancel(_ id: UInt64) {
        guard let entry = entries.withLock({ $0.removeValue(forKey: id) }) else { return }
        entry.continuation.resume(returning: .cancelled)
        entry.cancelPlugin()
    }

    func owner(of id: UInt64) -> String? {
        entries.withLock { $0[id]?.owner }
    }

    /// Who a call runs for and what its queries may do; nil once the call has ended.
    func queryContext(of id: UInt64) -> (owner: String, scope: QueryScope, meter: CallMeter?)? {
        entries.withLock { entries in entries[id].map { ($0.owner, $0.scope, $0.meter) } }
    }

    func isInFlight(_ id: UInt64) -> Bool {
        entries.withLock { $0[id] != nil }
    }

    /// Forwards a progress report if the client asked for progress and it moves forward.
    func progress(_ id: UInt64, _ update: ProgressUpdate) {
        let sink = entries.withLock { entries -> ProgressSink? in
            guard var entry = entries[id], let sink = entry.progress, update.progress > entry.lastProgress else { return nil }
            entry.lastProgress = update.progress
            entries[id] = entry
            return sink
        }
        sink?(update)
    }

    /// Ends every call whose deadline has passed.
    func expire(now: ContinuousClock.Instant) {
        let expired = entries.withLock { entries -> [Entry] in
            let ids = entries.filter { $0.value.deadline <= now }.map(\.key)
            return ids.compactMap { entries.removeValue(forKey: $0) }
        }
        for entry in expired {
            logger.warning("plugin call timed out", metadata: ["plugin": "\(entry.plugin)"])
            entry.continuation.resume(returning: .timedOut)
            entry.cancelPlugin()
        }
    }

    /// Checks deadlines until the task running it is cancelled. One sweeper serves every call, so
    /// a call costs no timer of its own.
    func sweepDeadlines(every interval: Duration = .milliseconds(20)) async {
        let clock = ContinuousClock()
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            expire(now: clock.now)
        }
    }
}
