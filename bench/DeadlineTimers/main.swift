// What a per-call deadline costs, for the choice in CallRegistry: `DeadlineQueue` (the real file,
// compiled in by deadline_timers.sh) against a `Task.sleep` child per call cancelled when the call
// completes. Each iteration is one call that completes long before its 30 s deadline.
// Usage: deadline-timers queue|task|none CALLS
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments
guard arguments.count == 3, let calls = Int(arguments[2]) else {
    fatalError("usage: deadline-timers queue|task|none CALLS")
}
let timeout = Duration.seconds(30)

switch arguments[1] {
case "none":
    // The loop alone: reading the clock, as every call does for its deadline.
    var sum: Int64 = 0
    for _ in 0..<calls { sum &+= ContinuousClock.now.advanced(by: timeout).hashValue == 0 ? 1 : 0 }
    if sum == 42 { print(sum) }
case "queue":
    let fired = Atomic<Int>(0)
    // No call stays in flight, as in a server whose calls finish well within their timeouts.
    let queue = DeadlineQueue(pending: { [] }, fire: { _, _ in fired.add(1, ordering: .relaxed) })
    for id in 0..<calls {
        // Completion costs nothing: the deadline stays in the heap and is ignored when it fires.
        queue.schedule(UInt64(id + 1), at: ContinuousClock.now.advanced(by: timeout))
    }
    withExtendedLifetime(queue) {}
case "task":
    let ended = Atomic<Int>(0)
    for _ in 0..<calls {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        let timer = Task {
            try? await Task.sleep(until: deadline, clock: .continuous)
            ended.add(1, ordering: .relaxed)
        }
        timer.cancel()  // the call completed
    }
    // Count the cancelled timers' wake-ups too: they are work the executor does per call.
    // Polled from a plain loop: an async main would run on dispatch_main, which valgrind cannot follow.
    while ended.load(ordering: .relaxed) < calls { usleep(5_000) }
default:
    fatalError("usage: deadline-timers queue|task|none CALLS")
}
