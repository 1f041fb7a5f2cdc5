/// Compares a client-supplied `resource` (RFC 8707) with this server's MCP URL, tolerating what
/// real clients send: a trailing slash, different case in scheme and host, or the bare origin
/// (claude.ai has sent `https://host/` for `https://host/mcp`).
public enum ResourceIdentifier {
    /// `acceptingOrigin: false` for audiences another issuer wrote: a token for `https://host` may
    /// be meant for another service on that host.
    public static func matches(_ given: String, canonical: String, acceptingOrigin: Bool = true) -> Bool {
        let asked = normalized(given)
        let mine = normalized(canonical)
        if asked == mine { return true }
        guard acceptingOrigin, mine.hasSuffix("/mcp") else { return false }
        return asked == String(mine.dropLast(4))
    }

    static func normalized(_ uri: String) -> String {
        var text = uri
        while text.hasSuffix("/") { text.removeLast() }
        guard let schemeEnd = text.range(of: "://") else { return text }
        let afterScheme = text[schemeEnd.upperBound...]
        let hostEnd = afterScheme.firstIndex(of: "/") ?? afterScheme.endIndex
        return text[..<hostEnd].lowercased() + text[hostEnd...]
    }
}
