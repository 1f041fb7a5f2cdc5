/// A failure the model should see and can act on ("customer 12 has no projects; try list_customers").
/// Becomes a tool result with `isError: true`.
public struct ToolError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The thing asked for does not exist (for this caller). Resources answer "not found"; tools
/// turn it into a tool error.
public struct NotFound: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The arguments are well-formed JSON but make no sense together ("from is after to").
public struct InvalidArguments: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

// Any other error a handler throws is logged by the host with its description; the client only
// learns that the plugin failed, so internal details (paths, SQL) never reach the model.
