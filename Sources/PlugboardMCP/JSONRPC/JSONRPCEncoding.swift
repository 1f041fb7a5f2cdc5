import PlugboardJSON

/// Builds the bytes of outgoing JSON-RPC messages, writing straight into one buffer.
public enum JSONRPCEncoding {
    public static func result(id: RequestID, _ result: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        out.append(contentsOf: #"{"jsonrpc":"2.0","id":"#.utf8)
        id.json.write(to: &out)
        out.append(contentsOf: #","result":"#.utf8)
        result.write(to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// An error response; `id` is nil when the request could not be read far enough to know it.
    public static func error(id: RequestID?, _ error: MCPError) -> [UInt8] {
        var out: [UInt8] = Array(#"{"jsonrpc":"2.0","id":"#.utf8)
        (id?.json ?? .null).write(to: &out)
        out.append(contentsOf: #","error":"#.utf8)
        error.json.write(to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    public static func notification(method: String, params: JSONValue) -> [UInt8] {
        var out: [UInt8] = Array(#"{"jsonrpc":"2.0","method":"#.utf8)
        JSONValue.writeString(method, to: &out)
        out.append(contentsOf: #","params":"#.utf8)
        params.write(to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }
}
