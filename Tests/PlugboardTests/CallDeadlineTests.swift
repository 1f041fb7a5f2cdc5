import PlugboardContracts
import Synchronization
import Testing

@testable import PlugboardPlugins

/// How each call ended, and when.
final class Outcomes: Sendable {
    let ended = Mutex<[UInt64: (PluginOutcome, ContinuousClock.Instant)]>([:])
}

/// Calls' deadlines in the `CallRegistry`: each fires at its own time, whatever else is in flight.
@Suite("Call deadlines")
struct CallDeadlineTests {
    /// Registers a call that only its deadline or `registry.cancel` ends, and records how it ended.
    func start(
        _ id: UInt64, in registry: CallRegistry, instance: PluginInstance, deadline: ContinuousClock.Instant,
        outcomes: Outcomes
    ) {
        Task {
            let outcome = await withCheckedContinuation { continuation in
                registry.register(
                    id,
                    CallRegistry.Entry(
                        instance: instance, owner: "o", scope: QueryScope(plugin: instance.plugin, writes: false, maxRows: 1, timeout: .seconds(1)),
                        meter: nil, continuation: continuation, progress: nil, deadline: deadline, cancelPlugin: {}))
            }
            let ended = ContinuousClock.now
            outcomes.ended.withLock { $0[id] = (outcome, ended) }
        }
    }

    @Test("a call times out at its own deadline while many calls with later deadlines are registered")
    func ownDeadline() async {
        let registry = CallRegistry(logger: TestSupport.logger)
        let instance = registry.makeInstance(plugin: "p")
        let outcomes = Outcomes()
        let now = ContinuousClock.now
        // The long calls first: then each short one brings an earlier deadline than any the
        // registry waits for.
        let long = (0..<1_000).map { _ in registry.makeID() }
        for id in long { start(id, in: registry, instance: instance, deadline: now + .seconds(3_600), outcomes: outcomes) }
        #expect(await eventually { long.allSatisfy { registry.isInFlight($0, for: instance) } })
        let first = registry.makeID()
        let firstDeadline = ContinuousClock.now + .milliseconds(300)
        start(first, in: registry, instance: instance, deadline: firstDeadline, outcomes: outcomes)
        #expect(await eventually { registry.isInFlight(first, for: instance) })
        let last = registry.makeID()
        let lastDeadline = ContinuousClock.now + .milliseconds(100)
        start(last, in: registry, instance: instance, deadline: lastDeadline, outcomes: outcomes)

        #expect(await eventually { outcomes.ended.withLock { $0[first] != nil && $0[last] != nil } })
        let (lastOutcome, lastEnded) = outcomes.ended.withLock { $0[last] } ?? (.cancelled, now)
        let (firstOutcome, firstEnded) = outcomes.ended.withLock { $0[first] } ?? (.cancelled, now)
        #expect(lastOutcome == .timedOut)
        #expect(firstOutcome == .timedOut)
        #expect(lastEnded >= lastDeadline && firstEnded >= firstDeadline, "a deadline fired early")
        // The long calls are untouched.
        #expect(outcomes.ended.withLock { $0.count } == 2)
        #expect(long.allSatisfy { registry.isInFlight($0, for: instance) })

        for id in long { registry.cancel(id) }
        #expect(await eventually { outcomes.ended.withLock { $0.count } == 1_002 })
        #expect(outcomes.ended.withLock { outcomes in long.allSatisfy { outcomes[$0]?.0 == .cancelled } })
    }

    @Test("a call that ended before its deadline is not touched when the deadline passes")
    func endedCallIgnored() async {
        let registry = CallRegistry(logger: TestSupport.logger)
        let instance = registry.makeInstance(plugin: "p")
        let outcomes = Outcomes()
        let early = registry.makeID()
        start(early, in: registry, instance: instance, deadline: .now + .milliseconds(50), outcomes: outcomes)
        #expect(await eventually { registry.isInFlight(early, for: instance) })
        #expect(registry.complete(early, status: 0, bytes: [], from: instance))
        // A later call's deadline fires after the ended call's: the queue got past the stale one.
        let later = registry.makeID()
        start(later, in: registry, instance: instance, deadline: .now + .milliseconds(100), outcomes: outcomes)
        #expect(await eventually { outcomes.ended.withLock { $0[later] != nil } })
        #expect(outcomes.ended.withLock { $0[early]?.0 } == .completed(status: 0, bytes: []))
        #expect(outcomes.ended.withLock { $0[later]?.0 } == .timedOut)
    }

    @Test("deadlines of calls that ended do not pile up, and a pending one still fires")
    func endedDeadlinesDropped() async {
        let registry = CallRegistry(logger: TestSupport.logger)
        let instance = registry.makeInstance(plugin: "p")
        let outcomes = Outcomes()
        let pending = registry.makeID()
        start(pending, in: registry, instance: instance, deadline: .now + .milliseconds(500), outcomes: outcomes)
        #expect(await eventually { registry.isInFlight(pending, for: instance) })
        // Calls that complete at once, each leaving an hour-long deadline behind.
        for _ in 0..<20_000 {
            let id = registry.makeID()
            _ = await withCheckedContinuation { continuation in
                registry.register(
                    id,
                    CallRegistry.Entry(
                        instance: instance, owner: "o", scope: QueryScope(plugin: instance.plugin, writes: false, maxRows: 1, timeout: .seconds(1)),
                        meter: nil, continuation: continuation, progress: nil, deadline: .now + .seconds(3_600), cancelPlugin: {}))
                registry.complete(id, status: 0, bytes: [], from: instance)
            }
        }
        #expect(registry.scheduledDeadlines <= 2 * DeadlineQueue.minimumCompaction, "\(registry.scheduledDeadlines) deadlines held")
        #expect(await eventually { outcomes.ended.withLock { $0[pending] != nil } })
        #expect(outcomes.ended.withLock { $0[pending]?.0 } == .timedOut)
    }
}
