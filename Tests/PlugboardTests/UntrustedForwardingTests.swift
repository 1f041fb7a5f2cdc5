import HTTPTypes
@testable import PlugboardAuth
@testable import PlugboardServer
import Testing

/// A warning when forwarding headers come from a peer outside `auth.trusted_proxies`: once per
/// address, never for a trusted proxy or a request without them, and bounded in addresses.
@Suite("Forwarding headers from untrusted peers")
struct UntrustedForwardingTests {
    static func headers(_ name: String, _ value: String = "203.0.113.9") -> HTTPFields {
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        if let field = HTTPField.Name(name) { fields[field] = value }
        return fields
    }

    static func warnings(_ log: LogRecorder) -> [String] {
        log.lines.filter { $0.level == .warning }.map(\.message)
    }

    @Test("warned once per untrusted peer, naming the header, the address and the setting")
    func oncePerPeer() throws {
        let log = LogRecorder()
        let forwarding = UntrustedForwarding(trustedProxies: [], logger: log.logger)
        for _ in 0..<5 { forwarding.check(peer: "127.0.0.1", headers: Self.headers("X-Forwarded-For")) }
        forwarding.check(peer: "127.0.0.1", headers: Self.headers("X-Forwarded-Proto", "https"))
        #expect(Self.warnings(log).count == 1)
        let warning = try #require(Self.warnings(log).first)
        #expect(warning.contains("X-Forwarded-For from 127.0.0.1 ignored"))
        #expect(warning.contains("auth.trusted_proxies"))
        #expect(forwarding.check(peer: "192.0.2.7", headers: Self.headers("Forwarded", "for=203.0.113.9;proto=https")))
        #expect(Self.warnings(log).count == 2)
    }

    @Test("silent for trusted proxies and for requests without forwarding headers")
    func silent() throws {
        let log = LogRecorder()
        let proxies = try #require(AddressRange("127.0.0.0/8"))
        let forwarding = UntrustedForwarding(trustedProxies: [proxies], logger: log.logger)
        #expect(!forwarding.check(peer: "127.0.0.1", headers: Self.headers("X-Forwarded-Host", "mcp.example.com:8443")))
        #expect(!forwarding.check(peer: "192.0.2.7", headers: Self.headers("X-Request-Id", "abc")))
        #expect(Self.warnings(log).isEmpty)
    }

    @Test("bounded: past the limit of addresses, one last warning and then silence")
    func bounded() {
        let log = LogRecorder()
        let forwarding = UntrustedForwarding(trustedProxies: [], limit: 3, logger: log.logger)
        for host in 1...10 { forwarding.check(peer: "192.0.2.\(host)", headers: Self.headers("X-Forwarded-For")) }
        let warnings = Self.warnings(log)
        #expect(warnings.count == 4)
        #expect(warnings.last?.contains("further ones are not reported") == true)
    }
}
