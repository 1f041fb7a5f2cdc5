import HTTPTypes
import Hummingbird
import PlugboardAuth

/// The scheme and host clients reach this server at, for the issuer, endpoint and resource URLs.
/// `server.public_url` wins; otherwise the request's Host, and X-Forwarded-Proto/-Host only when
/// the peer is a configured trusted proxy (a client must not be able to choose the issuer).
struct PublicOrigin: Sendable {
    let configured: String?
    let trustedProxies: [AddressRange]

    init(publicURL: String?, trustedProxies: [AddressRange]) {
        var configured = publicURL
        while configured?.hasSuffix("/") == true { configured?.removeLast() }
        self.configured = configured
        self.trustedProxies = trustedProxies
    }

    func base(of request: Request, context: PlugboardRequestContext) -> String {
        if let configured { return configured }
        let trusted = isTrustedProxy(context.peer)
        let forwardedProto = trusted ? request.headers[.forwardedProto].flatMap(Self.last) : nil
        let forwardedHost = trusted ? request.headers[.forwardedHost].flatMap(Self.last) : nil
        let scheme = forwardedProto == "https" ? "https" : "http"
        let host = forwardedHost ?? request.head.authority ?? "localhost"
        return "\(scheme)://\(host.lowercased())"
    }

    /// The address rate limits and the login throttle count by: the peer, or behind trusted
    /// proxies the address the first of them saw: X-Forwarded-For read from the end (what the
    /// nearest proxy appended), past the entries of other trusted proxies in a chain. Entries a
    /// client wrote itself come before those and are never reached while a proxy's stands.
    func clientAddress(of request: Request, context: PlugboardRequestContext) -> String {
        guard isTrustedProxy(context.peer), let forwarded = request.headers[.forwardedFor] else { return context.peer }
        var address = context.peer
        for entry in forwarded.split(separator: ",").reversed() {
            let hop = entry.trimmingCharacters(in: .whitespaces)
            guard !hop.isEmpty else { break }
            address = hop
            guard isTrustedProxy(hop) else { break }
        }
        return address
    }

    private func isTrustedProxy(_ peer: String) -> Bool {
        trustedProxies.contains { $0.contains(peer) }
    }

    /// The value the trusted proxy wrote: the last one, when a client sent its own before it.
    private static func last(_ value: String) -> String? {
        value.split(separator: ",").last.map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
    }
}
