/// Which browsers and host names may reach the MCP endpoint (DNS-rebinding and cross-site
/// protection, MCP transport rules T-2 and SEC-5).
public struct HTTPRequestPolicy: Sendable {
    /// Origins (`scheme://host[:port]`, lowercase) allowed besides the loopback ones.
    public var allowedOrigins: Set<String>
    /// Accept browser origins on localhost, 127.0.0.1 and [::1] (any port).
    public var allowLoopbackOrigins: Bool
    /// Host names (without port) the server answers to; nil accepts any. A server bound to
    /// loopback should only answer to loopback names, which defeats DNS rebinding.
    public var allowedHosts: Set<String>?

    public init(allowedOrigins: Set<String> = [], allowLoopbackOrigins: Bool = true, allowedHosts: Set<String>? = nil) {
        self.allowedOrigins = Set(allowedOrigins.map { $0.lowercased() })
        self.allowLoopbackOrigins = allowLoopbackOrigins
        self.allowedHosts = allowedHosts.map { Set($0.map { $0.lowercased() }) }
    }

    public static let loopbackHosts: Set<String> = ["localhost", "127.0.0.1", "[::1]", "::1"]

    /// True when a request with this `Origin` header may proceed. Requests without one (non-browser
    /// clients) always may.
    public func allows(origin: String?) -> Bool {
        guard let origin else { return true }
        let lowered = origin.lowercased()
        if allowedOrigins.contains(lowered) { return true }
        guard allowLoopbackOrigins, let host = Self.host(ofOrigin: lowered) else { return false }
        return Self.loopbackHosts.contains(host)
    }

    /// True when the `Host` header names this server.
    public func allows(host header: String?) -> Bool {
        guard let allowedHosts else { return true }
        guard let header else { return false }
        return allowedHosts.contains(Self.stripPort(header.lowercased()))
    }

    static func host(ofOrigin origin: String) -> String? {
        guard let schemeEnd = origin.firstRange(of: "://") else { return nil }
        let scheme = origin[..<schemeEnd.lowerBound]
        guard scheme == "http" || scheme == "https" else { return nil }
        let authority = origin[schemeEnd.upperBound...].prefix { $0 != "/" }
        return stripPort(String(authority))
    }

    public static func stripPort(_ authority: String) -> String {
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return authority }
            return String(authority[...close])
        }
        return String(authority.prefix { $0 != ":" })
    }
}
