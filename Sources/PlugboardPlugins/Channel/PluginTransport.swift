import PlugboardContracts
import PlugboardMCP

/// How the host reaches a loaded plugin: in-process through the C ABI, or (isolation mode) in a
/// worker process. Both speak the same JSON-in/JSON-out calls.
public protocol PluginTransport: Sendable {
    /// Runs one handler call and returns when it completed, timed out or was cancelled.
    func invoke(_ call: PluginCall) async -> PluginOutcome
    /// Stops accepting calls, waits for those in flight, then releases the plugin instance.
    func retire() async
}

/// One call into a plugin.
public struct PluginCall: Sendable {
    public var handler: String
    /// The handler's JSON input (tool arguments, resource request, prompt request).
    public var input: [UInt8]
    /// The user the call runs for; scoped queries are limited to their rows.
    public var owner: String
    public var timeout: Duration
    /// What the call's scoped queries may do.
    public var scope: QueryScope
    /// Set when the client asked for progress.
    public var progress: ProgressSink?
    public var cancellation: CancellationSignal?
    /// Counts the rows the call read, for the audit log.
    public var meter: CallMeter?

    public init(handler: String, input: [UInt8], owner: String, timeout: Duration, scope: QueryScope,
                progress: ProgressSink? = nil, cancellation: CancellationSignal? = nil, meter: CallMeter? = nil) {
        self.handler = handler
        self.input = input
        self.owner = owner
        self.timeout = timeout
        self.scope = scope
        self.progress = progress
        self.cancellation = cancellation
        self.meter = meter
    }
}

/// How a plugin call ended.
public enum PluginOutcome: Sendable, Equatable {
    /// The plugin completed: an ABI status (`PB_OK`, `PB_TOOL_ERROR` ...) and its bytes.
    case completed(status: Int32, bytes: [UInt8])
    /// The tool's timeout expired first.
    case timedOut
    /// The client cancelled the request first.
    case cancelled
    /// The plugin cannot take calls (retired, or its worker is gone).
    case unavailable(String)
}
