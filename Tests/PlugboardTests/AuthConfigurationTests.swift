import Logging
import PlugboardServer
import Testing

/// Configurations the server must refuse to serve, because they would make it unsafe.
@Suite("config.yaml: auth")
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
}
