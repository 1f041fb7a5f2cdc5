import CoreMetrics
import Synchronization

/// What the MCP server counts per request: calls and their outcome per method, duration per
/// method, requests in flight. Built only when metrics are on; the server holds nil otherwise, so a
/// request with metrics off touches none of this.
///
/// The factory is passed in (never the process-wide `MetricsSystem`) so tests can run several
/// servers in one process, each with its own registry, and so this module knows no backend.
public final class MCPMetrics: Sendable {
    private let factory: any MetricsFactory
    // Made once per label combination: making a metric through the factory takes the registry's
    // lock, builds its label set and allocates.
    private let requests = Mutex<[Outcome: Counter]>([:])
    private let durations = Mutex<[String: Timer]>([:])
    private let inFlight: Meter

    private struct Outcome: Hashable {
        let method: String
        let outcome: String
    }

    public init(factory: any MetricsFactory) {
        self.factory = factory
        inFlight = Meter(label: "plugboard_mcp_requests_in_flight", factory: factory)
    }

    func began() {
        inFlight.increment()
    }

    func ended(method: String, outcome: String, duration: Duration) {
        inFlight.decrement()
        // A client chooses the method string: only known ones become label values.
        let method = Self.knownMethods.contains(method) ? method : "other"
        let key = Outcome(method: method, outcome: outcome)
        let counter = requests.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(label: "plugboard_mcp_requests_total", dimensions: [("method", method), ("outcome", outcome)], factory: factory)
            counters[key] = counter
            return counter
        }
        counter.increment()
        let timer = durations.withLock { timers in
            if let timer = timers[method] { return timer }
            let timer = Timer(label: "plugboard_mcp_request_duration_seconds", dimensions: [("method", method)], factory: factory)
            timers[method] = timer
            return timer
        }
        timer.recordNanoseconds(duration.nanoseconds)
    }

    static let knownMethods: Set<String> = [
        "initialize", "server/discover", "ping", "tools/list", "resources/list", "resources/templates/list", "prompts/list", "tools/call",
        "resources/read", "prompts/get", "completion/complete",
    ]

    /// The outcome label of an answered request: `ok`, `tool_error` for a tool result with
    /// `isError`, else the JSON-RPC error's kind.
    static func outcome(_ error: MCPError) -> String {
        switch error.code {
        case .parseError: "parse_error"
        case .invalidRequest: "invalid_request"
        case .methodNotFound: "method_not_found"
        case .invalidParams: "invalid_params"
        case .internalError: "internal_error"
        case .resourceNotFound: "resource_not_found"
        case .headerMismatch: "header_mismatch"
        case .missingRequiredClientCapability: "missing_capability"
        case .unsupportedProtocolVersion: "unsupported_version"
        case .requestCancelled: "cancelled"
        }
    }
}

extension Duration {
    /// The whole duration in nanoseconds, saturating (a metric has no use for more than 292 years).
    package var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : whole &+ attoseconds / 1_000_000_000
    }
}
