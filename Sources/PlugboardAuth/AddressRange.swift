import Foundation

/// An IP address or a CIDR range of them (`10.0.0.0/8`, `fd00::/8`), as `auth.trusted_proxies`
/// lists the proxies whose forwarding headers count: a load balancer's address is often only
/// known to be somewhere in a subnet.
public struct AddressRange: Sendable, Equatable, CustomStringConvertible {
    private let network: [UInt8]
    private let prefix: Int
    public let description: String

    /// Nil unless `text` is an IPv4 or IPv6 address, optionally with a `/prefix` within its length.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let bytes = Self.bytes(String(parts[0])) else { return nil }
        let bits = bytes.count * 8
        var prefix = bits
        if parts.count == 2 {
            guard let given = Int(parts[1]), (0...bits).contains(given) else { return nil }
            prefix = given
        }
        self.network = Self.masked(bytes, prefix: prefix)
        self.prefix = prefix
        self.description = text
    }

    /// Whether `address` (an IP address as text) is in the range; names and malformed text are not.
    public func contains(_ address: String) -> Bool {
        guard let bytes = Self.bytes(address), bytes.count == network.count else { return false }
        return Self.masked(bytes, prefix: prefix) == network
    }

    private static func bytes(_ text: String) -> [UInt8]? {
        var v4 = [UInt8](repeating: 0, count: 4)
        if inet_pton(AF_INET, text, &v4) == 1 { return v4 }
        var v6 = [UInt8](repeating: 0, count: 16)
        if inet_pton(AF_INET6, text, &v6) == 1 { return v6 }
        return nil
    }

    private static func masked(_ bytes: [UInt8], prefix: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let kept = min(max(prefix - index * 8, 0), 8)
            return kept == 8 ? byte : byte & ~(UInt8.max >> kept)
        }
    }
}
