import Foundation

/// One tool call, resource read or prompt get, as the audit log records it.
public struct AuditEvent: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case tool
        case resource
        case prompt
    }

    public var at: Date
    public var owner: String
    public var client: String?
    public var kind: Kind
    /// The tool's name, the resource's URI or the prompt's name, as the client asked for it.
    public var tool: String
    public var plugin: String
    /// SHA-256 of the arguments as the plugin received them (never the arguments themselves).
    public var argumentsDigest: String
    /// Rows the call read through scoped queries.
    public var rows: Int
    /// Size of the plugin's reply (before the host's checks and encoding); 0 when there was none
    /// (a timeout, a refusal before the call).
    public var bytes: Int
    public var duration: Duration
    public var outcome: Outcome

    public enum Outcome: String, Sendable {
        case ok
        case toolError = "tool_error"
        case invalidArguments = "invalid_arguments"
        case unknownTool = "unknown_tool"
        case timeout
        case cancelled
        case internalError = "internal_error"
        case unavailable
        case overBudget = "over_budget"
        case notFound = "not_found"
    }

    public init(at: Date, owner: String, client: String?, kind: Kind = .tool, tool: String, plugin: String, argumentsDigest: String, rows: Int, bytes: Int,
                duration: Duration, outcome: Outcome) {
        self.at = at
        self.owner = owner
        self.client = client
        self.kind = kind
        self.tool = tool
        self.plugin = plugin
        self.argumentsDigest = argumentsDigest
        self.rows = rows
        self.bytes = bytes
        self.duration = duration
        self.outcome = outcome
    }
}

/// Where audit events go (the store's audit log). Recording must not block the call.
public protocol AuditSink: Sendable {
    func record(_ event: AuditEvent)
}
