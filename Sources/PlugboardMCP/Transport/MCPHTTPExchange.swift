import HTTPTypes

/// An HTTP request to the MCP endpoint, with its body already collected.
public struct MCPHTTPRequest: Sendable {
    public var method: HTTPRequest.Method
    /// The `Host` header (HTTP/1) or `:authority` (HTTP/2).
    public var authority: String?
    public var headerFields: HTTPFields
    public var body: [UInt8]

    public init(method: HTTPRequest.Method, authority: String?, headerFields: HTTPFields, body: [UInt8]) {
        self.method = method
        self.authority = authority
        self.headerFields = headerFields
        self.body = body
    }
}

/// The answer to send: a complete body, or an SSE stream written as events happen.
public enum MCPHTTPResponse: Sendable {
    case complete(status: HTTPResponse.Status, headerFields: HTTPFields, body: [UInt8])
    /// Write each element of `events` as it comes; call `clientGone` if writing fails, because a
    /// closed stream cancels the request.
    case stream(status: HTTPResponse.Status, headerFields: HTTPFields, events: AsyncStream<[UInt8]>, clientGone: @Sendable () -> Void)

    public var status: HTTPResponse.Status {
        switch self {
        case .complete(let status, _, _), .stream(let status, _, _, _): status
        }
    }
}

extension HTTPField.Name {
    static let mcpProtocolVersion = HTTPField.Name("MCP-Protocol-Version")!
    public static let mcpMethod = HTTPField.Name("Mcp-Method")!
    public static let mcpName = HTTPField.Name("Mcp-Name")!
    static let mcpSessionID = HTTPField.Name("Mcp-Session-Id")!
    static let xAccelBuffering = HTTPField.Name("X-Accel-Buffering")!
}
