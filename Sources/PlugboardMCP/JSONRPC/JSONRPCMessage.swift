import PlugboardJSON

/// One JSON-RPC 2.0 message received from a client.
public enum JSONRPCMessage: Sendable {
    case request(JSONRPCRequest)
    case notification(method: String, params: JSONObject)
    /// A response to a server-to-client request; this server sends none, so it only acknowledges.
    case response(id: RequestID?)

    /// Reads a message from its JSON form. Batches (arrays) are not part of MCP since 2025-06-18.
    public init(_ value: JSONValue) throws(MCPError) {
        guard case .object(let object) = value else {
            if case .array = value {
                throw MCPError(.invalidRequest, "JSON-RPC batches are not supported: send one message per request")
            }
            throw MCPError(.invalidRequest, "a JSON-RPC message must be a JSON object")
        }
        guard object["jsonrpc"] == .string("2.0") else {
            throw MCPError(.invalidRequest, "missing or wrong \"jsonrpc\": it must be \"2.0\"")
        }
        var params = JSONObject()
        if let value = object["params"] {
            switch value {
            case .object(let object): params = object
            case .null: break
            default: throw MCPError(.invalidRequest, "\"params\" must be an object")
            }
        }
        guard let methodValue = object["method"] else {
            guard object["result"] != nil || object["error"] != nil else {
                throw MCPError(.invalidRequest, "a JSON-RPC message needs a \"method\" (request or notification) or a \"result\"/\"error\" (response)")
            }
            self = .response(id: object["id"].flatMap(RequestID.init))
            return
        }
        guard let method = methodValue.stringValue, !method.isEmpty else {
            throw MCPError(.invalidRequest, "\"method\" must be a non-empty string")
        }
        guard let idValue = object["id"] else {
            self = .notification(method: method, params: params)
            return
        }
        guard let id = RequestID(idValue) else {
            throw MCPError(.invalidRequest, "\"id\" must be a string or an integer")
        }
        self = .request(JSONRPCRequest(id: id, method: method, params: params))
    }
}

/// A request: it gets exactly one response.
public struct JSONRPCRequest: Sendable {
    public var id: RequestID
    public var method: String
    public var params: JSONObject

    public init(id: RequestID, method: String, params: JSONObject = JSONObject()) {
        self.id = id
        self.method = method
        self.params = params
    }

    /// `params._meta`, where MCP puts the progress token and (2026-07-28) the protocol metadata.
    public var meta: JSONObject? { params["_meta"]?.objectValue }
}
