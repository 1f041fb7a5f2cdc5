import PlugboardAuth
import PlugboardServer
import Testing

/// The shipped examples read, and keep the settings a deployment behind nginx needs.
@Suite("The example configs (examples/config.*.yaml)")
struct DeployExampleTests {
    @Test("trusts the local proxy, names the server and fixes the public URL")
    func production() throws {
        let configuration = try ConfigurationLoader.load(path: TestSupport.repositoryRoot + "/examples/config.production.yaml")
        // Behind nginx every client connects from 127.0.0.1: without this the sign-in throttle and
        // the rate limits count the whole world as one address.
        #expect(configuration.auth.trustedProxies.contains { $0.contains("127.0.0.1") })
        #expect(!configuration.auth.trustedProxies.contains { $0.contains("203.0.113.9") })
        #expect(configuration.server.name != "plugboard")
        #expect(configuration.server.publicURL == "https://mcp.example.com")
        #expect(configuration.listensOnLoopback)
    }

    @Test("the staging example, behind a proxy too, trusts it as well")
    func staging() throws {
        let configuration = try ConfigurationLoader.load(path: TestSupport.repositoryRoot + "/examples/config.staging.yaml")
        #expect(configuration.auth.trustedProxies.contains { $0.contains("127.0.0.1") })
    }
}
