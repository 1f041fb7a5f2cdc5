import HTTPTypes
import Hummingbird
import NIOCore

/// Every route's context: Hummingbird's, plus the peer address (trusted-proxy checks, login throttling).
public struct PlugboardRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The peer's IP address as text, IPv4-mapped IPv6 addresses shown as IPv4.
    var peer: String {
        guard let address = remoteAddress?.ipAddress else { return "unknown" }
        return address.hasPrefix("::ffff:") ? String(address.dropFirst(7)) : address
    }
}
