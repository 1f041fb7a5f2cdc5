import Foundation
import PlugboardMCP
import Synchronization

/// Per-tool calls of the last `minutes` minutes for the status page: a ring of per-minute
/// buckets per tool, each a call count, an error count and a duration histogram. Percentiles come
/// from the histogram (log-scale bins, √2 apart), so recording a call is a dictionary lookup and a
/// few increments in arrays allocated when the tool is first seen; memory is fixed per tool and
/// at most `maxTools` tools are tracked (calls of further tools are only counted as untracked).
final class ToolActivityRecorder: Sendable {
    static let bins = 48
    /// The upper bound of bin 0; bin i holds durations up to `firstBound · 2^(i/2)` (~28 min at the top).
    static let firstBound: Duration = .microseconds(100)

    let minutes: Int
    let maxTools: Int
    /// The minute since the epoch, injected by tests.
    private let minuteNow: @Sendable () -> Int64
    private let state = Mutex(State())

    private struct State {
        var tools: [String: Series] = [:]
        var untrackedCalls = 0
    }

    /// One tool's ring: slot `m % minutes` holds minute `m` when `minute[slot] == m`, else it is stale.
    private struct Series {
        var minute: [Int64]
        var calls: [Int32]
        var errors: [Int32]
        var histogram: [Int32]

        init(minutes: Int) {
            minute = Array(repeating: -1, count: minutes)
            calls = Array(repeating: 0, count: minutes)
            errors = Array(repeating: 0, count: minutes)
            histogram = Array(repeating: 0, count: minutes * ToolActivityRecorder.bins)
        }
    }

    init(minutes: Int = 15, maxTools: Int = 256, minuteNow: @escaping @Sendable () -> Int64 = ToolActivityRecorder.wallMinute) {
        self.minutes = minutes
        self.maxTools = maxTools
        self.minuteNow = minuteNow
    }

    @Sendable static func wallMinute() -> Int64 {
        Int64((Date().timeIntervalSince1970 / 60).rounded(.down))
    }

    /// The histogram bin of a duration: the first whose upper bound holds it.
    static func bin(of duration: Duration) -> Int {
        let ratio = Double(duration.nanoseconds) / Double(firstBound.nanoseconds)
        guard ratio > 1 else { return 0 }
        return min(bins - 1, Int((2 * log2(ratio)).rounded(.up)))
    }

    static func upperBound(ofBin bin: Int) -> Duration {
        .nanoseconds(Int64((Double(firstBound.nanoseconds) * pow(2, Double(bin) / 2)).rounded()))
    }

    func record(tool: String, duration: Duration, failed: Bool) {
        let minute = minuteNow()
        let slot = Int(minute % Int64(minutes))
        let bin = Self.bin(of: duration)
        state.withLock { state in
            if state.tools[tool] == nil {
                guard state.tools.count < maxTools else {
                    state.untrackedCalls += 1
                    return
                }
                state.tools[tool] = Series(minutes: minutes)
            }
            // In place through the dictionary's modify accessor: no copy of the arrays.
            Self.add(to: &state.tools[tool], slot: slot, minute: minute, bin: bin, failed: failed)
        }
    }

    private static func add(to series: inout Series?, slot: Int, minute: Int64, bin: Int, failed: Bool) {
        guard series != nil else { return }
        if series?.minute[slot] != minute {
            series?.minute[slot] = minute
            series?.calls[slot] = 0
            series?.errors[slot] = 0
            for index in slot * bins..<(slot + 1) * bins { series?.histogram[index] = 0 }
        }
        series?.calls[slot] += 1
        if failed { series?.errors[slot] += 1 }
        series?.histogram[slot * bins + bin] += 1
    }

    /// Every tracked tool with calls in the window, by name, oldest minute first.
    func snapshot() -> ToolActivitySnapshot {
        let now = minuteNow()
        // Read under the lock rather than copied out: a copy would share the arrays' storage, and
        // the next call of each tool would then pay for copying them.
        let (activity, untracked) = state.withLock { state in
            (state.tools.compactMap { Self.activity($0.key, $0.value, now: now, minutes: minutes) }, state.untrackedCalls)
        }
        return ToolActivitySnapshot(minutes: minutes, tools: activity.sorted { $0.tool < $1.tool }, untrackedCalls: untracked)
    }

    private static func activity(_ name: String, _ series: Series, now: Int64, minutes: Int) -> ToolActivity? {
        var perMinute: [ToolActivity.Minute] = []
        var window = [Int](repeating: 0, count: Self.bins)
        for minute in (now - Int64(minutes) + 1)...now {
            let slot = Int(((minute % Int64(minutes)) + Int64(minutes)) % Int64(minutes))
            guard series.minute[slot] == minute else {
                perMinute.append(.init(minute: minute, calls: 0, errors: 0, p50: nil, p99: nil))
                continue
            }
            let bins = (0..<Self.bins).map { Int(series.histogram[slot * Self.bins + $0]) }
            for (index, count) in bins.enumerated() { window[index] += count }
            perMinute.append(
                .init(
                    minute: minute, calls: Int(series.calls[slot]), errors: Int(series.errors[slot]), p50: Self.percentile(0.5, of: bins),
                    p99: Self.percentile(0.99, of: bins)))
        }
        let calls = perMinute.reduce(0) { $0 + $1.calls }
        guard calls > 0 else { return nil }
        return ToolActivity(
            tool: name, minutes: perMinute, calls: calls, errors: perMinute.reduce(0) { $0 + $1.errors },
            p50: Self.percentile(0.5, of: window), p99: Self.percentile(0.99, of: window))
    }

    /// The upper bound of the bin holding the `quantile`th duration; nil without calls.
    static func percentile(_ quantile: Double, of bins: [Int]) -> Duration? {
        let total = bins.reduce(0, +)
        guard total > 0 else { return nil }
        let rank = max(1, Int((quantile * Double(total)).rounded(.up)))
        var seen = 0
        for (index, count) in bins.enumerated() {
            seen += count
            if seen >= rank { return upperBound(ofBin: index) }
        }
        return upperBound(ofBin: bins.count - 1)
    }
}

/// What the recorder holds for the window, read once per page.
struct ToolActivitySnapshot: Sendable {
    let minutes: Int
    let tools: [ToolActivity]
    /// Calls of tools past the cap, counted but not charted.
    let untrackedCalls: Int
}

struct ToolActivity: Sendable {
    struct Minute: Sendable {
        let minute: Int64
        let calls: Int
        let errors: Int
        let p50: Duration?
        let p99: Duration?
    }

    let tool: String
    let minutes: [Minute]
    let calls: Int
    let errors: Int
    let p50: Duration?
    let p99: Duration?

    /// Calls per minute over the window.
    var rate: Double { Double(calls) / Double(max(minutes.count, 1)) }
}
