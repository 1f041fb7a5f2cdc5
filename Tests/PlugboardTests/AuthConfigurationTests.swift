import Logging
import PlugboardAuth
import PlugboardServer
import Testing

/// Configurations the server must refuse to serve, because they would make it unsafe.
@Suite("config.yaml: auth", .removesTemporaryFolders)
struct AuthConfigurationTests {
    func app(_ yaml: String) throws -> PlugboardApp {
        let configuration = try ConfigurationLoader.parse(
            yaml: "plugins: { state_dir: \(TestSupport.temporaryFolder()) }\n" + yaml, file: "/srv/config.yaml")
        return try PlugboardApp(configuration: configuration, logger: TestSupport.logger)
    }

    func refusal(_ yaml: String) -> String? {
        do {
            _ = try app(yaml)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test("an external issuer off loopback needs a fixed audience, so the Host header never chooses it")
    func externalAudience() {
        let external = "auth: { mode: external, issuer: 'https://idp.test', jwks_url: 'https://idp.test/jwks' }\n"
        #expect(refusal("server: { listen: 0.0.0.0:8080 }\n" + external)?.contains("server.public_url or auth.audience") == true)
        #expect(refusal("server: { listen: 0.0.0.0:8080, public_url: 'https://mcp.example.com' }\n" + external) == nil)
        #expect(refusal("server: { listen: 127.0.0.1:8080 }\n" + external) == nil)
    }

    @Test("test switches and auth mode none are refused off loopback; a name that merely starts with 127. is not loopback")
    func loopbackOnly() {
        #expect(refusal("server: { listen: 0.0.0.0:8080 }\nauth: { mode: oauth, test_auto_consent: alice }\n") != nil)
        #expect(refusal("server: { listen: 0.0.0.0:8080 }\nauth: { mode: oauth, test_allow_http_client_metadata: true }\n") != nil)
        #expect(refusal("server: { listen: 0.0.0.0:8080 }\nauth: { mode: oauth }\n") == nil)
        #expect(refusal("server: { listen: '127.evil.example:8080' }\nauth: { mode: none }\n") != nil)
        #expect(refusal("server: { listen: 127.0.0.1:8080 }\nauth: { mode: none }\n") == nil)
    }

    @Test("trusted proxies are addresses or CIDR ranges; anything else is refused with its line")
    func trustedProxies() throws {
        let configuration = try ConfigurationLoader.parse(
            yaml: "auth: { mode: oauth, trusted_proxies: [127.0.0.1, '10.0.0.0/8', 'fd00::/8'] }\n", file: "/srv/config.yaml")
        #expect(configuration.auth.trustedProxies.map(\.description) == ["127.0.0.1", "10.0.0.0/8", "fd00::/8"])
        for bad in ["proxy.internal", "10.0.0.0/33", "10.0.0/8", "::1/129", "10.0.0.0/", "10.0.0.0/-0", "10.0.0.0/+8", "10.0.0.0/٨", "fe80::1%eth0"] {
            let message = refusal("auth: { mode: oauth, trusted_proxies: ['\(bad)'] }\n")
            #expect(message?.contains("'\(bad)' is not an IP address or a CIDR range") == true, "\(bad): \(message ?? "accepted")")
        }
    }

    @Test("an address range holds exactly the addresses under its prefix")
    func addressRanges() throws {
        let ten = try #require(AddressRange("10.0.0.0/8"))
        #expect(ten.contains("10.255.3.4") && ten.contains("10.0.0.0"))
        #expect(!ten.contains("11.0.0.1") && !ten.contains("9.255.255.255") && !ten.contains("ten"))
        #expect(ten.contains("::ffff:10.0.0.1"), "an IPv4-mapped address is the IPv4 address it carries")
        let odd = try #require(AddressRange("192.168.4.0/22"))
        #expect(odd.contains("192.168.7.255") && !odd.contains("192.168.8.0") && !odd.contains("192.168.3.255"))
        let one = try #require(AddressRange("127.0.0.1"))
        #expect(one.contains("127.0.0.1") && !one.contains("127.0.0.2"))
        let v6 = try #require(AddressRange("fd00::/8"))
        #expect(v6.contains("fd12:3456::1") && !v6.contains("fe80::1") && !v6.contains("10.0.0.1"))
        #expect(try #require(AddressRange("0.0.0.0/0")).contains("203.0.113.9"))
        #expect(AddressRange("10.0.0.0/-1") == nil && AddressRange("1.2.3.4/x") == nil && AddressRange("") == nil)
        let interface = try #require(AddressRange("192.168.1.10/24"), "host bits are ignored, as nginx does")
        #expect(interface.contains("192.168.1.200") && !interface.contains("192.168.2.1"))
    }
}
