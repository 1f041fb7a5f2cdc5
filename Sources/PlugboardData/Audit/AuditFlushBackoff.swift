/// The audit flusher's wait before its next flush: `interval` while writes succeed, doubled after
/// each consecutive failed write, never more than `ceiling`.
public struct AuditFlushBackoff: Sendable, Equatable {
    public var interval: Duration
    public var ceiling: Duration

    public init(interval: Duration, ceiling: Duration) {
        self.interval = interval
        self.ceiling = max(interval, ceiling)
    }

    public func delay(afterFailures failures: Int) -> Duration {
        var delay = interval
        // Doubling stops at the ceiling, so a long outage cannot overflow the duration.
        for _ in 0..<max(0, failures) where delay < ceiling {
            delay *= 2
        }
        return min(delay, ceiling)
    }
}
