import Foundation
import PlugboardAuth
import PlugboardJSON
import Testing

/// The signature itself is checked by a real verifier in Tests/e2e/test_rest_bridge.py (Django's
/// simplejwt against the JWKS); here: the claims, the header and the key's life.
@Suite("Bridge tokens")
struct BridgeTokenSignerTests {
    func part(_ token: String, _ index: Int) throws -> JSONValue {
        var text = String(token.split(separator: ".")[index]).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        let data = try #require(Data(base64Encoded: text))
        return try JSONValue(parsing: Array(data))
    }

    @Test("a token names the caller, the audience, this server, the scopes, for at most 60 s, signed by the published key")
    func claims() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bridge-\(UUID().uuidString)").path
        let signer = BridgeTokenSigner(keyFile: "\(folder)/state/bridge-signing-key.pem", issuer: "https://mcp.example.com", lifetimeSeconds: 3_600)
        let token = try await signer.token(owner: "alice", audience: "projects-api", scopes: ["projects:read", "projects:write"])
        let claims = try part(token, 1)
        #expect(claims["sub"] == "alice")
        #expect(claims["username"] == "alice")
        #expect(claims["aud"] == "projects-api" || claims["aud"] == ["projects-api"])
        #expect(claims["iss"] == "https://mcp.example.com")
        #expect(claims["scope"] == "projects:read projects:write")
        let lifetime = try #require(claims["exp"]?.doubleValue) - (try #require(claims["iat"]?.doubleValue))
        #expect(lifetime > 0 && lifetime <= 60, "asked for an hour, capped at a minute")
        let other = try await signer.token(owner: "alice", audience: "projects-api", scopes: [])
        #expect(try part(other, 1)["jti"] != claims["jti"])

        let header = try part(token, 0)
        let jwks = try JSONValue(parsing: try signer.jwks())
        let key = try #require(jwks["keys"]?.arrayValue?.first)
        #expect(header["alg"] == "ES256")
        #expect(header["kid"] == key["kid"])
        #expect(key["kty"] == "EC" && key["crv"] == "P-256")
        #expect(key["d"] == nil, "the JWKS must not carry the private key")

        let mode = try FileManager.default.attributesOfItem(atPath: "\(folder)/state/bridge-signing-key.pem")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // The key outlives the process: a new signer over the same file publishes the same key.
        #expect(try BridgeTokenSigner(keyFile: "\(folder)/state/bridge-signing-key.pem", issuer: "x").jwks() == signer.jwks())
        try? FileManager.default.removeItem(atPath: folder)
    }
}
