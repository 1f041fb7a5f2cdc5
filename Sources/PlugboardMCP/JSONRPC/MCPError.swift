import PlugboardJSON

/// A JSON-RPC error answer, with the HTTP status the Streamable HTTP transport sends it with.
public struct MCPError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Int, Sendable {
        case parseError = -32700
        case invalidRequest = -32600
        case methodNotFound = -32601
        case invalidParams = -32602
        case internalError = -32603
        /// 2025-era "resource not found"; 2026-07-28 uses invalidParams with `data.uri`.
        case resourceNotFound = -32002
        /// 2026-07-28: an HTTP header disagrees with the body.
        case headerMismatch = -32020
        /// 2026-07-28: the request lacks a client capability the method needs.
        case missingRequiredClientCapability = -32021
        /// 2026-07-28: the protocol version is not supported.
        case unsupportedProtocolVersion = -32022
        /// The request was cancelled before it completed.
        case requestCancelled = -32800
    }

    public var code: Code
    public var message: String
    public var data: JSONValue?

    public init(_ code: Code, _ message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    public var description: String { "\(code.rawValue): \(message)" }

    public var json: JSONValue {
        var object: JSONObject = ["code": .int(Int64(code.rawValue)), "message": .string(message)]
        if let data { object["data"] = data }
        return .object(object)
    }
}
