import Synchronization

/// The deadlines of calls in flight, each fired at its own time by one timer task that sleeps
/// until the earliest.
///
/// Scheduling a deadline is a heap insert under a lock that guards nothing else; a call that
/// completes leaves its deadline in the heap (removing it would cost every call a search) and the
/// registry ignores it when it fires, or drops it sooner when such deadlines pile up (a busy server
/// with long timeouts would otherwise hold rate × timeout of them). A timer task is started only when a deadline earlier than
/// the one it sleeps until arrives, which with the tools' fixed timeouts is rare: calls mostly
/// register in deadline order. (bench/DeadlineTimers measures this against a `Task.sleep` per
/// call.)
final class DeadlineQueue: Sendable {
    typealias Instant = ContinuousClock.Instant

    private struct State {
        var heap = DeadlineHeap()
        /// What the timer task sleeps until; nil when none runs.
        var armed: Instant?
        var timer: Task<Void, Never>?
        /// The heap size at which deadlines of ended calls are dropped.
        var compactAt = DeadlineQueue.minimumCompaction
    }

    static let minimumCompaction = 4_096

    private let state = Mutex(State())
    private let fire: @Sendable (_ id: UInt64, _ deadline: Instant) -> Void
    private let pending: @Sendable () -> Set<UInt64>
    /// How late a deadline may fire, so that one wake-up serves the deadlines close together.
    private let tolerance: Duration

    /// - Parameters:
    ///   - pending: the ids of the calls still in flight (called under this queue's lock).
    ///   - fire: called (outside the lock) for each deadline reached, in deadline order.
    init(
        tolerance: Duration = .milliseconds(1), pending: @escaping @Sendable () -> Set<UInt64>,
        fire: @escaping @Sendable (_ id: UInt64, _ deadline: Instant) -> Void
    ) {
        self.tolerance = tolerance
        self.pending = pending
        self.fire = fire
    }

    /// Deadlines held, including those of calls that have ended.
    var count: Int { state.withLock { $0.heap.count } }

    deinit {
        state.withLock { $0.timer?.cancel() }
    }

    func schedule(_ id: UInt64, at deadline: Instant) {
        state.withLock { state in
            state.heap.push(id, deadline)
            if state.heap.count >= state.compactAt {
                // Linear, but only once the heap has doubled since the last time: O(1) per call.
                let live = pending()
                state.heap.keep { live.contains($0) }
                state.compactAt = max(Self.minimumCompaction, 2 * state.heap.count)
            }
            if let armed = state.armed, armed <= deadline { return }
            // The new deadline comes first: a new timer sleeps until it, the old one stops.
            state.armed = deadline
            state.timer?.cancel()
            state.timer = Task { [weak self] in
                var armed = deadline
                var wake = deadline
                while true {
                    do {
                        try await Task.sleep(until: wake, tolerance: self?.tolerance, clock: .continuous)
                    } catch {
                        return  // replaced by a timer for an earlier deadline
                    }
                    // Not held while sleeping: a registry dropped with calls pending ends its timer.
                    guard let self, let following = self.fireDue(armedFor: armed) else { return }
                    armed = following
                    // Most deadlines left behind by completed calls are a few microseconds apart
                    // under load: waking at most once per `tolerance` fires them in batches.
                    wake = max(following, ContinuousClock.now.advanced(by: self.tolerance))
                }
            }
        }
    }

    /// Fires the deadlines that are due; returns the next one to sleep until, nil if there is
    /// none or this timer was replaced.
    private func fireDue(armedFor armed: Instant) -> Instant? {
        let now = ContinuousClock.now
        let (due, following) = state.withLock { state -> ([(UInt64, Instant)], Instant?) in
            // Replaced while waking up: the other timer owns the heap now.
            guard state.armed == armed else { return ([], nil) }
            var due: [(UInt64, Instant)] = []
            while let earliest = state.heap.first, earliest.deadline <= now {
                due.append(state.heap.pop())
            }
            state.armed = state.heap.first?.deadline
            if state.armed == nil { state.timer = nil }
            return (due, state.armed)
        }
        for (id, deadline) in due { fire(id, deadline) }
        return following
    }
}

/// A binary min-heap of (call id, deadline) pairs.
struct DeadlineHeap {
    private var items: [(id: UInt64, deadline: ContinuousClock.Instant)] = []

    var first: (id: UInt64, deadline: ContinuousClock.Instant)? { items.first }
    var count: Int { items.count }

    mutating func push(_ id: UInt64, _ deadline: ContinuousClock.Instant) {
        items.append((id, deadline))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].deadline < items[parent].deadline else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    /// Keeps only the ids `isKept` accepts, and restores the heap order.
    mutating func keep(_ isKept: (UInt64) -> Bool) {
        items.removeAll { !isKept($0.id) }
        for parent in stride(from: items.count / 2 - 1, through: 0, by: -1) { siftDown(from: parent) }
    }

    /// Removes and returns the earliest; the heap must not be empty.
    mutating func pop() -> (UInt64, ContinuousClock.Instant) {
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            siftDown(from: 0)
        }
        return (top.id, top.deadline)
    }

    private mutating func siftDown(from start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < items.count, items[left].deadline < items[smallest].deadline { smallest = left }
            if right < items.count, items[right].deadline < items[smallest].deadline { smallest = right }
            guard smallest != parent else { return }
            items.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
