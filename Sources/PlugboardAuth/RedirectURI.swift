import Foundation

/// Which redirect URIs a client may register and how an authorization request's is matched.
public enum RedirectURI {
    /// https anywhere, or http on a loopback address (native clients, RFC 8252 §7.3); never a fragment.
    public static func isAllowed(_ uri: String) -> Bool {
        guard let components = URLComponents(string: uri), components.fragment == nil, let host = components.host, !host.isEmpty,
            components.user == nil, components.password == nil
        else { return false }
        switch components.scheme?.lowercased() {
        case "https": return true
        case "http": return isLoopback(host)
        default: return false
        }
    }

    /// Exact match, except that a loopback http URI matches on any port (RFC 8252 §7.3).
    public static func matches(requested: String, registered: String) -> Bool {
        if requested == registered { return true }
        guard var asked = URLComponents(string: requested), var known = URLComponents(string: registered), asked.scheme == "http",
            known.scheme == "http", let host = asked.host, isLoopback(host)
        else { return false }
        asked.port = nil
        known.port = nil
        return asked.string == known.string
    }

    /// The host a consent page names.
    public static func host(of uri: String) -> String {
        URLComponents(string: uri)?.host ?? uri
    }

    /// `localhost`, `::1` or an IPv4 literal in 127.0.0.0/8 — not any name that starts with "127.".
    /// Also what decides whether the server listens on loopback only.
    public static func isLoopback(_ host: String) -> Bool {
        let bare = host.trimmingCharacters(in: ["[", "]"]).lowercased()
        if bare == "localhost" || bare == "::1" { return true }
        var address = in_addr()
        guard inet_pton(AF_INET, bare, &address) == 1 else { return false }
        return withUnsafeBytes(of: address.s_addr) { $0.first == 127 }
    }
}

extension RedirectURI {
    /// True for an http redirect to this computer (a native app), which a consent page points out.
    public static func isLoopbackURI(_ uri: String) -> Bool {
        guard let components = URLComponents(string: uri), let host = components.host else { return false }
        return isLoopback(host)
    }
}
