import Crypto
import Foundation
import Logging
import PlugboardAuth
import PlugboardData
import PlugboardJSON
import Testing

/// The authorization server's rules, against the real store on SQLite and (when the test cluster
/// runs) PostgreSQL.
@Suite("The authorization server", .removesTemporaryFolders)
struct AuthorizationServerTests {
    enum Backend: String, CaseIterable, CustomTestStringConvertible {
        case sqlite, postgres
        var testDescription: String { rawValue }
    }

    static var backends: [Backend] { TestPostgres.address == nil ? [.sqlite] : [.sqlite, .postgres] }

    static let resource = "https://mcp.example.com/mcp"
    static let redirect = "https://claude.ai/api/mcp/auth_callback"
    static let policy = ScopePolicy(toolScopes: ["projects:read", "meetings:read"])

    /// A migrated store with user alice, and a server whose codes live `codeSeconds`.
    static func server(_ backend: Backend, codeSeconds: Int64 = 300) async throws -> (AuthorizationServer, TokenVerifier) {
        let store: any HostStore
        switch backend {
        case .sqlite:
            store = try SQLiteStore(path: TestSupport.temporaryFolder() + "/host.db")
        case .postgres:
            let name = try await TestPostgres.database(schema: "SELECT 1")
            store = try PostgresStore(location: PostgresLocation(url: TestPostgres.url(user: "pb_owner", database: name)), logger: TestSupport.logger)
        }
        _ = try await store.migrate()
        #expect(try await store.migrate().isEmpty, "a second migration run applies nothing")
        #expect(try await store.auth.addUser("alice", passwordHash: Passwords.hash("correct horse"), at: 1))
        #expect(try await !store.auth.addUser("alice", passwordHash: "x", at: 1), "a taken name is refused")
        let verifier = TokenVerifier(store: store.auth, cacheSeconds: 0)
        let server = AuthorizationServer(
            store: store.auth, settings: AuthSettings(codeSeconds: codeSeconds), verifier: verifier, logger: TestSupport.logger)
        return (server, verifier)
    }

    static func verifierAndChallenge() -> (String, String) {
        let verifier = Secrets.make(prefix: "v")
        return (verifier, Secrets.base64URL(Data(SHA256.hash(data: Data(verifier.utf8)))))
    }

    /// Registers Claude's way and authorizes alice; returns the client id, the code and the verifier.
    static func authorize(_ server: AuthorizationServer, scope: String = "claudeai") async throws -> (String, String, String) {
        let (client, _) = try await server.register(
            .object(
                JSONObject([
                    ("client_name", "claudeai"), ("grant_types", ["authorization_code", "refresh_token"]), ("response_types", ["code"]),
                    ("token_endpoint_auth_method", "none"), ("scope", "claudeai"), ("redirect_uris", [.string(redirect)]),
                ])), scopes: policy)
        let (verifier, challenge) = verifierAndChallenge()
        let check = try await server.check(
            [
                "client_id": client.id, "redirect_uri": redirect, "response_type": "code", "code_challenge": challenge,
                "code_challenge_method": "S256", "scope": scope, "resource": resource + "/", "state": "s1",
            ], resource: resource, scopes: policy)
        guard case .valid(let request) = check else { throw TestFailure("authorization refused: \(check)") }
        return (client.id, try await server.issueCode(request, owner: "alice"), verifier)
    }

    static func exchange(_ server: AuthorizationServer, client: String, code: String, verifier: String, redirect: String = redirect) async throws
        -> TokenGrant
    {
        try await server.token(
            ["grant_type": "authorization_code", "client_id": client, "code": code, "code_verifier": verifier, "redirect_uri": redirect],
            resource: resource)
    }

    static func oauthError(_ body: () async throws -> Void) async -> OAuthError? {
        do {
            try await body()
            return nil
        } catch {
            return error as? OAuthError
        }
    }

    @Test("code, token, refresh: Claude's scope is down-scoped to all, the audience holds, rotation works", arguments: backends)
    func flow(backend: Backend) async throws {
        let (server, verifier) = try await Self.server(backend)
        let (client, code, codeVerifier) = try await Self.authorize(server)
        let tokens = try await Self.exchange(server, client: client, code: code, verifier: codeVerifier)
        #expect(tokens.scopes == ["mcp", "meetings:read", "projects:read"])
        guard case .valid(let record) = try await verifier.verify(tokens.accessToken, resource: "https://MCP.example.com/mcp") else {
            throw TestFailure("a fresh access token is refused")
        }
        #expect(record.owner == "alice")
        #expect(try await verifier.verify(tokens.accessToken, resource: "https://other.example.com/mcp") != .valid(record), "another audience")

        let refresh = try #require(tokens.refreshToken)
        let renewed = try await server.token(["grant_type": "refresh_token", "client_id": client, "refresh_token": refresh], resource: Self.resource)
        #expect(renewed.scopes == tokens.scopes)
        guard case .valid = try await verifier.verify(renewed.accessToken, resource: Self.resource) else { throw TestFailure("renewed token refused") }

        // The rotated refresh token comes back: the grant ends, new tokens included.
        let reuse = await Self.oauthError {
            _ = try await server.token(["grant_type": "refresh_token", "client_id": client, "refresh_token": refresh], resource: Self.resource)
        }
        #expect(reuse?.code == "invalid_grant")
        #expect(try await verifier.verify(renewed.accessToken, resource: Self.resource) != .valid(record))
        if case .valid = try await verifier.verify(renewed.accessToken, resource: Self.resource) { Issue.record("revoked grant still verifies") }
        let afterRevoke = await Self.oauthError {
            _ = try await server.token(
                ["grant_type": "refresh_token", "client_id": client, "refresh_token": try #require(renewed.refreshToken)], resource: Self.resource)
        }
        #expect(afterRevoke?.code == "invalid_grant")
    }

    @Test("a replayed code fails and revokes what the first exchange issued", arguments: backends)
    func codeReplay(backend: Backend) async throws {
        let (server, verifier) = try await Self.server(backend)
        let (client, code, codeVerifier) = try await Self.authorize(server)
        let tokens = try await Self.exchange(server, client: client, code: code, verifier: codeVerifier)
        let replay = await Self.oauthError { _ = try await Self.exchange(server, client: client, code: code, verifier: codeVerifier) }
        #expect(replay?.code == "invalid_grant")
        if case .valid = try await verifier.verify(tokens.accessToken, resource: Self.resource) { Issue.record("token of a replayed code still verifies") }
    }

    @Test("the code is bound to its verifier, redirect URI, client and lifetime", arguments: backends)
    func codeBindings(backend: Backend) async throws {
        let (server, _) = try await Self.server(backend)
        let (client, code, _) = try await Self.authorize(server)
        #expect(await Self.oauthError { _ = try await Self.exchange(server, client: client, code: code, verifier: Self.verifierAndChallenge().0) }?.code == "invalid_grant")

        let (client2, code2, verifier2) = try await Self.authorize(server)
        let wrongRedirect = await Self.oauthError {
            _ = try await Self.exchange(server, client: client2, code: code2, verifier: verifier2, redirect: "https://claude.com/api/mcp/auth_callback")
        }
        #expect(wrongRedirect?.code == "invalid_grant")
        let unknownClient = await Self.oauthError { _ = try await Self.exchange(server, client: "nobody", code: code2, verifier: verifier2) }
        #expect(unknownClient == .invalidClient("unknown client nobody: register again"))
        #expect(unknownClient?.status == 401)

        let (expiring, _) = try await Self.server(backend, codeSeconds: -1)
        let (client3, code3, verifier3) = try await Self.authorize(expiring)
        #expect(await Self.oauthError { _ = try await Self.exchange(expiring, client: client3, code: code3, verifier: verifier3) }?.description.contains("expired") == true)
    }

    @Test("authorization requests: PKCE S256 required, redirect URIs exact (any loopback port), foreign resources refused", arguments: backends)
    func requestChecks(backend: Backend) async throws {
        let (server, _) = try await Self.server(backend)
        // Added by an administrator: errors go back to its redirect URI.
        let client = ClientRecord(
            id: "cli-client", name: "Admin's app", redirectURIs: ["http://127.0.0.1:3000/cb", Self.redirect], origin: .cli, createdAt: 1)
        try await server.store.addClient(client)
        let (_, challenge) = Self.verifierAndChallenge()
        func check(_ changes: [String: String?]) async throws -> AuthorizationCheck {
            var query = [
                "client_id": client.id, "redirect_uri": Self.redirect, "response_type": "code", "code_challenge": challenge, "code_challenge_method": "S256",
            ]
            for (key, value) in changes { query[key] = value }
            return try await server.check(query, resource: Self.resource, scopes: Self.policy)
        }
        func errorCode(_ outcome: AuthorizationCheck) -> String? {
            if case .redirectError(_, _, let error) = outcome { return error.code }
            return nil
        }
        if case .valid = try await check([:]) {} else { Issue.record("a good request is refused") }
        if case .valid = try await check(["redirect_uri": "http://127.0.0.1:51234/cb"]) {} else { Issue.record("loopback on another port is refused") }
        #expect(errorCode(try await check(["code_challenge": nil])) == "invalid_request")
        #expect(errorCode(try await check(["code_challenge_method": "plain"])) == "invalid_request")
        #expect(errorCode(try await check(["response_type": "token"])) == "unsupported_response_type")
        #expect(errorCode(try await check(["resource": "https://evil.example.com/mcp"])) == "invalid_target")
        if case .refuse = try await check(["redirect_uri": "https://claude.ai/api/mcp/auth_callback/../evil"]) {} else { Issue.record("redirect mismatch") }
        if case .refuse = try await check(["redirect_uri": "http://localhost:3000/cb"]) {} else { Issue.record("another loopback host name") }
        if case .refuse = try await check(["client_id": "unknown"]) {} else { Issue.record("unknown client") }
        if case .refuse = try await check(["state": String(repeating: "s", count: 1025)]) {} else { Issue.record("a state over 1 KiB is kept") }
        if case .valid = try await check(["state": String(repeating: "s", count: 1024)]) {} else { Issue.record("a 1 KiB state is refused") }

        // Registered by anyone: an error is a page, never a redirect nobody approved.
        let (registered, _) = try await server.register(.object(JSONObject([("redirect_uris", [.string(Self.redirect)])])), scopes: Self.policy)
        let malformed = try await server.check(
            ["client_id": registered.id, "redirect_uri": Self.redirect, "response_type": "code"], resource: Self.resource, scopes: Self.policy)
        if case .refuse = malformed {} else { Issue.record("a registered client's malformed request was redirected: \(malformed)") }

        let refused = await Self.oauthError { _ = try await server.register(.object(JSONObject([("redirect_uris", ["http://evil.example.com/cb"])])), scopes: Self.policy) }
        #expect(refused?.code == "invalid_redirect_uri")
    }

    @Test("a disabled user's tokens stop working; API tokens act for their user", arguments: backends)
    func disabledUsersAndAPITokens(backend: Backend) async throws {
        let (server, verifier) = try await Self.server(backend)
        let (token, id) = try await server.createAPIToken(owner: "alice", scopes: ["mcp", "projects:read"], name: "ci")
        guard case .valid(let record) = try await verifier.verify(token, resource: "http://anything:8080/mcp") else { throw TestFailure("API token refused") }
        #expect(record.scopes == ["mcp", "projects:read"])
        #expect(try await server.store.apiGrants().map(\.id) == [id])
        #expect(try await server.store.setDisabled("alice", true))
        if case .valid = try await verifier.verify(token, resource: Self.resource) { Issue.record("token of a disabled user verifies") }
        #expect(try await server.store.setDisabled("alice", false))
        try await server.revoke(grantID: id, reason: "test")
        if case .valid = try await verifier.verify(token, resource: Self.resource) { Issue.record("revoked API token verifies") }
        if case .valid = try await verifier.verify("pba_garbage", resource: Self.resource) { Issue.record("garbage verifies") }

        // The wildcard means every tool only on an API token; on any other grant it is just a name.
        let (everything, _) = try await server.createAPIToken(owner: "alice", scopes: [AuthStore.everyScope], name: nil)
        guard case .valid(let wildcard) = try await verifier.verify(everything, resource: Self.resource) else { throw TestFailure("wildcard token refused") }
        #expect(wildcard.unrestricted)
        try await server.store.addClient(ClientRecord(id: "c", name: "c", redirectURIs: [Self.redirect], origin: .cli, createdAt: 1))
        try await server.store.addGrant(
            GrantRecord(id: "g", kind: .oauth, owner: "alice", clientID: "c", scopes: [AuthStore.everyScope], resource: Self.resource, createdAt: 1))
        try await server.store.addToken(digest: Secrets.digest("pba_star"), kind: .access, grantID: "g", expiresAt: nil, at: 1)
        guard case .valid(let oauth) = try await verifier.verify("pba_star", resource: Self.resource) else { throw TestFailure("oauth token refused") }
        #expect(!oauth.unrestricted)
    }

    @Test("a cached token stops verifying the moment its grant is revoked through this server", arguments: backends)
    func revocationBeatsTheCache(backend: Backend) async throws {
        let (uncached, _) = try await Self.server(backend)
        let cached = TokenVerifier(store: uncached.store, cacheSeconds: 300)
        let server = AuthorizationServer(store: uncached.store, settings: AuthSettings(), verifier: cached, logger: TestSupport.logger)
        let (client, code, verifier) = try await Self.authorize(server)
        let tokens = try await Self.exchange(server, client: client, code: code, verifier: verifier)
        guard case .valid = try await cached.verify(tokens.accessToken, resource: Self.resource) else { throw TestFailure("fresh token refused") }
        try await server.revoke(token: try #require(tokens.refreshToken))
        if case .valid = try await cached.verify(tokens.accessToken, resource: Self.resource) { Issue.record("the cache outlived the revocation") }
    }

    @Test("scopes: unknown ones are dropped, none known means all, mcp always")
    func scopes() {
        #expect(Self.policy.supported == ["mcp", "meetings:read", "projects:read"])
        #expect(Self.policy.grant("claudeai") == Self.policy.supported)
        #expect(Self.policy.grant(nil) == Self.policy.supported)
        #expect(Self.policy.grant("projects:read admin") == ["mcp", "projects:read"])
    }

    @Test("resource identifiers: trailing slash, case and the bare origin are the same resource")
    func resources() {
        #expect(ResourceIdentifier.matches("https://mcp.example.com/mcp/", canonical: Self.resource))
        #expect(ResourceIdentifier.matches("HTTPS://MCP.example.com/mcp", canonical: Self.resource))
        #expect(ResourceIdentifier.matches("https://mcp.example.com/", canonical: Self.resource))
        #expect(!ResourceIdentifier.matches("https://mcp.example.com/other", canonical: Self.resource))
        #expect(!ResourceIdentifier.matches("https://mcp.example.com.evil.com/mcp", canonical: Self.resource))
        #expect(!ResourceIdentifier.matches("https://mcp.example.com/MCP", canonical: Self.resource))
    }

    @Test("PKCE verifiers must be well formed and match")
    func pkce() {
        let (verifier, challenge) = Self.verifierAndChallenge()
        #expect(PKCE.verify(verifier: verifier, challenge: challenge))
        #expect(!PKCE.verify(verifier: verifier + "x", challenge: challenge))
        #expect(!PKCE.verify(verifier: "short", challenge: challenge))
        #expect(PKCE.isWellFormedChallenge(challenge))
        #expect(!PKCE.isWellFormedChallenge(verifier))
    }
}
