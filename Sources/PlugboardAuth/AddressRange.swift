import Foundation

/// An IP address or a CIDR range of them (`10.0.0.0/8`, `fd00::/8`), as `auth.trusted_proxies`
/// lists the proxies whose forwarding headers count: a load balancer's address is often only
/// known to be somewhere in a subnet.
public struct AddressRange: Sendable, Equatable, CustomStringConvertible {
    private let network: [UInt8]
    private let prefix: Int
    public let description: String

    /// Nil unless `text` is an IPv4 or IPv6 address, optionally with a `/prefix` within its length
    /// (bits below the prefix are ignored, as nginx does: `192.168.1.10/24` is `192.168.1.0/24`).
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let bytes = Self.bytes(String(parts[0])) else { return nil }
        let bits = bytes.count * 8
        var prefix = bits
        if parts.count == 2 {
            // Digits only: Int() would take "+8" and "-0", and "/-0" must not mean "everyone".
            guard !parts[1].isEmpty, parts[1].allSatisfy(\.isASCII), parts[1].allSatisfy(\.isNumber), let given = Int(parts[1]),
                (0...bits).contains(given)
            else { return nil }
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

    /// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) count as the IPv4 address they carry.
    private static func bytes(_ text: String) -> [UInt8]? {
        var v4 = [UInt8](repeating: 0, count: 4)
        if inet_pton(AF_INET, text, &v4) == 1 { return v4 }
        var v6 = [UInt8](repeating: 0, count: 16)
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        if v6[0..<10].allSatisfy({ $0 == 0 }), v6[10] == 0xff, v6[11] == 0xff { return Array(v6[12...]) }
        return v6
    }

    private static func masked(_ bytes: [UInt8], prefix: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let kept = min(max(prefix - index * 8, 0), 8)
            return kept == 8 ? byte : byte & ~(UInt8.max >> kept)
        }
    }
}
