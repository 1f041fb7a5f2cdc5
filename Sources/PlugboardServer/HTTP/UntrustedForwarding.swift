import HTTPTypes
import Hummingbird
import Logging
import PlugboardAuth
import Synchronization

/// Tells the operator when a peer outside `auth.trusted_proxies` sends `X-Forwarded-*` or
/// `Forwarded` headers. They are ignored then, which is right for a client but, behind a proxy
/// nobody listed, makes every client look like the proxy: one sign-in throttle and one
/// registration limit for the whole world. Said once per peer address, for at most `limit`
/// addresses, so neither memory nor the log grows with requests or with a client rotating
/// addresses.
final class UntrustedForwarding: Sendable {
    private let trustedProxies: [AddressRange]
    private let limit: Int
    private let warned = Mutex<Set<String>>([])
    private let logger: Logger

    init(trustedProxies: [AddressRange], limit: Int = 64, logger: Logger) {
        self.trustedProxies = trustedProxies
        self.limit = limit
        self.logger = logger
    }

    /// Looks at one request's headers; true when this call logged a warning.
    @discardableResult
    func check(peer: String, headers: HTTPFields) -> Bool {
        guard let header = Self.forwardingHeader(in: headers), !trustedProxies.contains(where: { $0.contains(peer) }) else { return false }
        let (first, last) = warned.withLock { peers -> (Bool, Bool) in
            guard peers.count < limit, peers.insert(peer).inserted else { return (false, false) }
            return (true, peers.count == limit)
        }
        guard first else { return false }
        let advice =
            "that address is not in auth.trusted_proxies. If it is your proxy, add it there, or every client counts as \(peer) "
            + "for the sign-in throttle and the rate limits, and public URLs follow the Host header (said once per address)"
        logger.warning("\(header) from \(peer) ignored: \(advice)", metadata: ["peer": "\(peer)", "header": "\(header)"])
        if last {
            logger.warning("forwarding headers came from \(limit) untrusted addresses; further ones are not reported")
        }
        return true
    }

    /// The first forwarding header's name, if the request has any.
    static func forwardingHeader(in headers: HTTPFields) -> String? {
        for field in headers {
            let name = field.name.canonicalName
            if name.hasPrefix("x-forwarded-") || name == "forwarded" { return field.name.rawName }
        }
        return nil
    }
}

/// Runs `UntrustedForwarding` on every request, whatever its route.
struct UntrustedForwardingMiddleware: RouterMiddleware {
    typealias Context = PlugboardRequestContext
    let forwarding: UntrustedForwarding

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        forwarding.check(peer: context.peer, headers: request.headers)
        return try await next(request, context)
    }
}
