import Logging
import PlugboardContracts
import PlugboardMCP
import Synchronization

/// One loaded plugin instance, as the calls it makes back to the host identify it: the callbacks
/// of an in-process instance and the frames of a worker carry only call ids, and an id is honoured
/// only for the instance the call was given to.
struct PluginInstance: Sendable, Equatable {
    let plugin: String
    let key: UInt64
}

/// The calls in flight across all plugins, by call id.
///
/// Plugins finish calls through a C callback that carries only the id, from any thread. Looking
/// the id up here (instead of trusting a pointer) is what makes a second `complete`, a late
/// `complete` after a timeout, or a made-up id harmless: the lookup fails and is logged. Ids are
/// random, and every lookup on a plugin's behalf checks that the call was given to that instance,
/// so one plugin can neither guess nor use another's calls (its owner, role, tables, result).
final class CallRegistry: Sendable {
    struct Entry {
        let instance: PluginInstance
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
    private let nextInstance = Atomic<UInt64>(1)
    private let logger: Logger
    private let deadlines: DeadlineQueue

    init(logger: Logger) {
        self.logger = logger
        // Weak: the queue's timer may outlive the registry by the longest pending deadline.
        let registry = WeakRegistry()
        deadlines = DeadlineQueue(
            pending: { registry.value?.pendingIDs() ?? [] },
            fire: { id, deadline in registry.value?.expire(id, deadline: deadline) })
        registry.value = self
    }

    func makeInstance(plugin: String) -> PluginInstance {
        PluginInstance(plugin: plugin, key: nextInstance.wrappingAdd(1, ordering: .relaxed).oldValue)
    }

    /// A call id nobody can predict from the ids they have seen (0 means "no call" in the ABI).
    func makeID() -> UInt64 {
        entries.withLock { entries in
            var id: UInt64
            repeat { id = UInt64.random(in: 1...UInt64.max) } while entries[id] != nil
            return id
        }
    }

    /// Registers a call; it times out at `entry.deadline` unless it ended before.
    func register(_ id: UInt64, _ entry: Entry) {
        entries.withLock { $0[id] = entry }
        deadlines.schedule(id, at: entry.deadline)
    }

    /// Delivers a plugin's completion. Returns false (and logs) for ids that are not in flight
    /// for `instance`.
    @discardableResult
    func complete(_ id: UInt64, status: Int32, bytes: [UInt8], from instance: PluginInstance) -> Bool {
        let (entry, foreign) = entries.withLock { entries -> (Entry?, PluginInstance?) in
            guard let entry = entries[id] else { return (nil, nil) }
            guard entry.instance == instance else { return (nil, entry.instance) }
            return (entries.removeValue(forKey: id), nil)
        }
        guard let entry else {
            if let foreign {
                refuse("completed", id, of: foreign, by: instance)
            } else {
                logger.warning(
                    "plugin completed a call that is not in flight (completed twice, or after its timeout or cancellation); ignored",
                    metadata: ["plugin": "\(instance.plugin)", "call": "\(id)"])
            }
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

    /// Who a call of `instance` runs for; nil once it has ended or if it is not that instance's.
    func owner(of id: UInt64, for instance: PluginInstance) -> String? {
        entry(id, for: instance, doing: "asked for the owner of")?.owner
    }

    /// Who a call of `instance` runs for and what its queries may do; nil once the call has ended
    /// or if it is not that instance's.
    func queryContext(of id: UInt64, for instance: PluginInstance) -> (owner: String, scope: QueryScope, meter: CallMeter?)? {
        entry(id, for: instance, doing: "queried for").map { ($0.owner, $0.scope, $0.meter) }
    }

    func isInFlight(_ id: UInt64, for instance: PluginInstance) -> Bool {
        entries.withLock { $0[id]?.instance == instance }
    }

    /// Forwards a progress report of `instance`'s call if the client asked for progress and it
    /// moves forward.
    func progress(_ id: UInt64, _ update: ProgressUpdate, from instance: PluginInstance) {
        let (sink, foreign) = entries.withLock { entries -> (ProgressSink?, PluginInstance?) in
            guard var entry = entries[id] else { return (nil, nil) }
            guard entry.instance == instance else { return (nil, entry.instance) }
            guard let sink = entry.progress, update.progress > entry.lastProgress else { return (nil, nil) }
            entry.lastProgress = update.progress
            entries[id] = entry
            return (sink, nil)
        }
        if let foreign { refuse("reported progress on", id, of: foreign, by: instance) }
        sink?(update)
    }

    private func entry(_ id: UInt64, for instance: PluginInstance, doing action: String) -> Entry? {
        let entry = entries.withLock { $0[id] }
        guard let entry, entry.instance != instance else { return entry }
        refuse(action, id, of: entry.instance, by: instance)
        return nil
    }

    private func refuse(_ action: String, _ id: UInt64, of owner: PluginInstance, by caller: PluginInstance) {
        logger.error(
            "plugin \(action) a call it was not given (it belongs to plugin '\(owner.plugin)'); refused",
            metadata: ["plugin": "\(caller.plugin)", "call": "\(id)"])
    }

    /// Deadlines the queue holds, including those of calls that have ended.
    var scheduledDeadlines: Int { deadlines.count }

    private func pendingIDs() -> Set<UInt64> {
        entries.withLock { Set($0.keys) }
    }

    /// Times a call out, if it is still the call that was registered with `deadline` (a call
    /// that ended leaves its deadline behind).
    private func expire(_ id: UInt64, deadline: ContinuousClock.Instant) {
        let entry = entries.withLock { entries -> Entry? in
            guard entries[id]?.deadline == deadline else { return nil }
            return entries.removeValue(forKey: id)
        }
        guard let entry else { return }
        logger.warning("plugin call timed out", metadata: ["plugin": "\(entry.instance.plugin)"])
        entry.continuation.resume(returning: .timedOut)
        entry.cancelPlugin()
    }
}

/// The registry as its deadline queue sees it: set once, right after the registry is built.
private final class WeakRegistry: @unchecked Sendable {
    // Written once in `CallRegistry.init` before the queue can fire; read-only afterwards.
    weak var value: CallRegistry?
}
