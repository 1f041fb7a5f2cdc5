@testable import PlugboardAuth
import PlugboardData
@testable import PlugboardServer
import Testing

/// What people read on the sign-in and consent pages: the server's name and the scopes in words.
@Suite("Sign-in and consent pages")
struct AuthorizePagesTests {
    static let request = AuthorizationRequest(
        client: ClientRecord(id: "c1", name: "Claude", redirectURIs: ["https://claude.ai/api/mcp/auth_callback"], origin: .registered, createdAt: 0),
        redirectURI: "https://claude.ai/api/mcp/auth_callback", state: "s", codeChallenge: "x",
        scopes: ["mcp", "projects:read", "meetings:read"], resource: "https://mcp.example.com/mcp")

    @Test("the sign-in page names the server")
    func loginNamesTheServer() {
        let page = AuthorizePages.login(serverName: "Example <tools>", request: Self.request, requestID: "r", csrf: "t")
        #expect(page.contains("<title>Sign in · Example &lt;tools&gt;</title>"))
        #expect(page.contains("<h1>Sign in to Example &lt;tools&gt;</h1>"))
    }

    @Test("the consent page says what each scope allows, escaped, and keeps the scope's name")
    func consentDescribesScopes() {
        let page = AuthorizePages.consent(
            serverName: "Example tools", request: Self.request, user: "alice", requestID: "r", csrf: "t",
            descriptions: ["projects:read": "Read your <projects> & customers"])
        #expect(page.contains("<li>Use Example tools <code>mcp</code></li>"))
        #expect(page.contains("<li>Read your &lt;projects&gt; &amp; customers <code>projects:read</code></li>"))
        // A scope no manifest describes is shown by its name alone.
        #expect(page.contains("<li><code>meetings:read</code></li>"))
    }
}
