/// Server-Sent Events framing for the MCP response stream.
public enum SSE {
    /// One `message` event carrying a JSON-RPC message. Our JSON never contains a raw newline, so
    /// one `data:` line holds it whole.
    public static func message(_ json: [UInt8]) -> [UInt8] {
        var out: [UInt8] = Array("event: message\ndata: ".utf8)
        out.reserveCapacity(out.count + json.count + 2)
        out.append(contentsOf: json)
        out.append(contentsOf: [0x0A, 0x0A])
        return out
    }

    /// A comment line that keeps proxies from closing an idle stream.
    public static let keepAlive: [UInt8] = Array(": keep-alive\n\n".utf8)
}
