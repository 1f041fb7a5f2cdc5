import Foundation
import PlugboardJSON
import Testing

@testable import PlugboardAuth

/// What an attacker-chosen URL may reach, and how another issuer's claims are judged.
@Suite("Outbound fetches and external tokens")
struct OutboundSafetyTests {
    @Test(
        "private, loopback, link-local, shared, documentation and multicast addresses are not public",
        arguments: [
            "127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "192.0.2.7",
            "198.18.0.1", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "::ffff:127.0.0.1",
            "::ffff:10.0.0.1", "64:ff9b::a00:1", "ff02::1", "2001:db8::1", "2002:7f00:1::1", "not-an-address", "::7f00:1", "fec0::1",
            "192.88.99.1", "64:ff9b:1::a00:1",
        ])
    func notPublic(address: String) {
        #expect(!PublicAddress.isPublic(address))
    }

    @Test("ordinary internet addresses are public", arguments: ["93.184.216.34", "8.8.8.8", "172.32.0.1", "2606:4700::1111", "::ffff:8.8.8.8"])
    func isPublic(address: String) {
        #expect(PublicAddress.isPublic(address))
    }

    @Test("an untrusted fetch of a loopback name is refused before connecting")
    func refusesLoopbackNames() async {
        for url in ["https://localhost:1/doc", "https://127.0.0.1:1/doc", "http://example.com/doc", "https://user:pw@example.com/doc"] {
            do {
                _ = try await OutboundHTTP().fetchUntrusted(url, reach: .init(allowLocal: false))
                Issue.record("\(url) was fetched")
            } catch let error as FetchError {
                #expect(
                    error.description.contains("not a public address") || error.description.contains("https")
                        || error.description.contains("credentials"), "\(url): \(error)")
            } catch {
                Issue.record("\(url): unexpected \(error)")
            }
        }
    }

    @Test("client metadata documents are cached for max-age within five minutes and a day")
    func cacheLifetime() {
        #expect(ClientMetadataDocuments.lifetime("public, max-age=7200") == .seconds(7200))
        #expect(ClientMetadataDocuments.lifetime("max-age=5") == .seconds(300))
        #expect(ClientMetadataDocuments.lifetime("max-age=9999999") == .seconds(86_400))
        #expect(ClientMetadataDocuments.lifetime("no-store") == .seconds(300))
        #expect(ClientMetadataDocuments.lifetime(nil) == .seconds(3600))
    }

    @Test("another issuer's claims: iss, aud, exp, nbf and the owner claim all count")
    func externalClaims() {
        let verifier = ExternalTokenVerifier(
            issuer: ExternalIssuer(issuer: "https://idp.test", jwksURL: "http://unused", ownerClaim: "email"), cacheSeconds: 0,
            logger: TestSupport.logger)
        let now = Int64(Date().timeIntervalSince1970)
        let resource = "https://mcp.example.com/mcp"
        let good: [String: PlugboardJSON.JSONValue] = [
            "iss": "https://idp.test", "aud": .array(["account", "https://mcp.example.com/mcp/"]), "exp": .int(now + 60), "email": "alice@example.com",
            "scope": "mcp projects:read", "azp": "claude",
        ]
        guard case .valid(let record) = verifier.check(good, resource: resource) else {
            Issue.record("good claims refused")
            return
        }
        #expect(record.owner == "alice@example.com")
        #expect(record.scopes == ["mcp", "projects:read"])
        #expect(record.clientID == "claude")
        func refused(_ change: (inout [String: PlugboardJSON.JSONValue]) -> Void) -> Bool {
            var claims = good
            change(&claims)
            if case .invalid = verifier.check(claims, resource: resource) { return true }
            return false
        }
        #expect(refused { $0["iss"] = "https://evil.test" })
        #expect(refused { $0["iss"] = nil })
        #expect(refused { $0["aud"] = "https://other.example.com/mcp" })
        #expect(refused { $0["aud"] = nil }, "unbound, and its client is not in allowed_clients")
        #expect(refused { $0["aud"] = "https://mcp.example.com/other" })
        #expect(refused { $0["aud"] = "https://mcp.example.com.evil.test/mcp" })
        #expect(!refused { $0["aud"] = "https://mcp.example.com" }, "the bare origin, as claude.ai asks for it")
        #expect(!refused { $0["aud"] = "https://MCP.example.com:443/" }, "compared as URLs")
        #expect(!refused { $0["aud"] = nil; $0["resource"] = "https://mcp.example.com/mcp" }, "an RFC 8707 resource claim binds too")
        #expect(refused { $0["exp"] = .int(now - 120) })
        #expect(refused { $0["exp"] = nil })
        #expect(refused { $0["nbf"] = .int(now + 120) })
        #expect(refused { $0["email"] = nil })
        #expect(refused { $0["email"] = "" })
        #expect(!refused { $0["exp"] = .int(now - 10) }, "30 s of clock skew are tolerated")
    }

    @Test("loopback redirect URIs are loopback literals, not names that start with 127.")
    func loopbackRedirects() {
        #expect(RedirectURI.isAllowed("http://127.0.0.1:5555/callback"))
        #expect(RedirectURI.isAllowed("http://127.9.9.9/cb"))
        #expect(RedirectURI.isAllowed("http://[::1]:8000/cb"))
        #expect(RedirectURI.isAllowed("http://localhost/cb"))
        #expect(!RedirectURI.isAllowed("http://127.0.0.1.nip.io/cb"))
        #expect(!RedirectURI.isAllowed("http://127.evil.com/cb"))
        #expect(!RedirectURI.matches(requested: "http://127.0.0.1.nip.io:9/cb", registered: "http://127.0.0.1.nip.io/cb"))
    }

    @Test("sign-in attempts count before the password check, so parallel guesses are limited too")
    func throttle() {
        let throttle = LoginThrottle(limit: 3, window: .seconds(60))
        let started = (0..<5).map { _ in throttle.begin(user: "Alice", peer: "203.0.113.1") }
        #expect(started == [true, true, true, false, false])
        #expect(throttle.begin(user: "alice", peer: "203.0.113.2"), "another address has its own count")
        throttle.succeeded(user: "alice", peer: "203.0.113.1")
        #expect(throttle.begin(user: "alice", peer: "203.0.113.1"), "a success hands its attempt back")
    }

    @Test("a token bound to no audience passes only for a client in allowed_clients (no confused deputy); absurd numbers do not trap")
    func unboundTokens() {
        let now = Int64(Date().timeIntervalSince1970)
        // What django-oauth-toolkit's introspection answers: no aud, no sub.
        let claims: [String: PlugboardJSON.JSONValue] = [
            "active": true, "exp": .int(now + 60), "client_id": "claude", "username": "alice", "scope": "mcp projects:read",
        ]
        let introspection = ExternalIssuer.Introspection(url: "http://unused", clientID: "rs", clientSecret: "s")
        func verifier(allowing clients: Set<String>, audience: String? = nil) -> ExternalTokenVerifier {
            ExternalTokenVerifier(
                issuer: ExternalIssuer(issuer: "https://idp.test", introspection: introspection, audience: audience, ownerClaim: "username", allowedClients: clients),
                cacheSeconds: 0, logger: TestSupport.logger)
        }
        let resource = "https://mcp.example.com/mcp"
        guard case .invalid(let reason) = verifier(allowing: []).check(claims, resource: resource) else {
            Issue.record("a token granted to any client of the issuer was accepted")
            return
        }
        #expect(reason.contains("'claude' is not in auth.allowed_clients"), "\(reason)")
        if case .invalid(let reason) = verifier(allowing: ["claude"]).check(claims, resource: resource) { Issue.record("refused: \(reason)") }
        if case .valid = verifier(allowing: ["mobile-app"]).check(claims, resource: resource) { Issue.record("another client's token passed") }
        if case .valid = verifier(allowing: ["claude"], audience: "api://plugboard").check(claims.merging(["aud": "api://other"]) { $1 }, resource: resource) {
            Issue.record("a token bound elsewhere passed because its client is allowed")
        }
        var huge = claims
        huge["exp"] = .double(1e300)
        huge["nbf"] = .double(-1e300)
        if case .invalid(let reason) = verifier(allowing: ["claude"]).check(huge, resource: resource) { Issue.record("refused: \(reason)") }
    }

    @Test("the owner comes from a claim name or a dotted path; integers become their decimal string")
    func ownerClaims() {
        let now = Int64(Date().timeIntervalSince1970)
        let base: [String: PlugboardJSON.JSONValue] = ["iss": "https://idp.test", "aud": "https://mcp.example.com/mcp", "exp": .int(now + 60)]
        func owner(claim: String, _ extra: [String: PlugboardJSON.JSONValue]) -> String {
            let verifier = ExternalTokenVerifier(
                issuer: ExternalIssuer(issuer: "https://idp.test", jwksURL: "http://unused", ownerClaim: claim), cacheSeconds: 0, logger: TestSupport.logger)
            switch verifier.check(base.merging(extra) { $1 }, resource: "https://mcp.example.com/mcp") {
            case .valid(let record): return record.owner
            case .invalid(let reason): return "refused: \(reason)"
            }
        }
        #expect(owner(claim: "user_id", ["user_id": .int(42)]) == "42")
        #expect(owner(claim: "user_id", ["user_id": .double(42)]) == "42")
        #expect(owner(claim: "user.id", ["user": .object(JSONObject([("id", .int(7)), ("name", "bob")]))]) == "7")
        #expect(owner(claim: "https://app.example.com/uid", ["https://app.example.com/uid": "bob"]) == "bob", "a namespaced claim is found whole")
        #expect(owner(claim: "user_id", ["user_id": .double(2.5)]).hasPrefix("refused: the token's user_id claim is a fractional number"))
        #expect(owner(claim: "user_id", ["user_id": true]).hasPrefix("refused: the token's user_id claim is a boolean"))
        // The refusal names the claims the issuer did send, never their values.
        let missing = owner(claim: "sub", ["username": "secret-name"])
        #expect(missing.contains("its claims are: aud, exp, iss, username"), "\(missing)")
        #expect(!missing.contains("secret-name"))
    }

    @Test("form encoding for client credentials (RFC 6749 §2.3.1) leaves nothing a decoder would change")
    func formEncoding() {
        #expect(FormFields.encode("rs+secret%2F/=:é ") == "rs%2Bsecret%252F%2F%3D%3A%C3%A9%20")
        #expect(FormFields.encode([("token", "a b"), ("client_id", "x&y")]) == "token=a%20b&client_id=x%26y")
        let decoded = try? FormFields.parse(FormFields.encode([("secret", "rs+secret%2F/=:é ")]))
        #expect(decoded == ["secret": "rs+secret%2F/=:é "])
    }
}
