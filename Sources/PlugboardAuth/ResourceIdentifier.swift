/// Compares a client-supplied `resource` (RFC 8707), or the audience of a token bound to it, with
/// this server's MCP URL as URLs, tolerating what real clients send: a trailing slash, different
/// case in scheme and host, or the bare origin (claude.ai has sent `https://host/` for
/// `https://host/mcp`, and issuers bind the token to what the client asked for).
public enum ResourceIdentifier {
    public static func matches(_ given: String, canonical: String) -> Bool {
        let asked = normalized(given)
        let mine = normalized(canonical)
        if asked == mine { return true }
        guard mine.hasSuffix("/mcp") else { return false }
        return asked == String(mine.dropLast(4))
    }

    static func normalized(_ uri: String) -> String {
        var text = uri
        while text.hasSuffix("/") { text.removeLast() }
        guard let schemeEnd = text.range(of: "://") else { return text }
        let afterScheme = text[schemeEnd.upperBound...]
        let hostEnd = afterScheme.firstIndex(of: "/") ?? afterScheme.endIndex
        var origin = text[..<hostEnd].lowercased()
        // The default port is the same URL: https://host:443/mcp is https://host/mcp.
        for (scheme, port) in [("https://", ":443"), ("http://", ":80")] where origin.hasPrefix(scheme) && origin.hasSuffix(port) {
            origin.removeLast(port.count)
        }
        return origin + text[hostEnd...]
    }
}
