import Crypto
import Foundation
import JWTKit
import PlugboardContracts
import Synchronization

/// Signs the tokens `kind: http` plugins send upstream: the caller's identity (`sub`), for one
/// upstream (`aud`), from this server (`iss`), for at most a minute, ES256. The upstream checks
/// them against `jwks` (served by the HTTP server), so nothing is shared but a public key. The
/// private key is made on first use and kept in the host's state folder, 0600; never in a manifest.
public final class BridgeTokenSigner: Sendable {
    private struct Loaded: Sendable {
        let key: ES256PrivateKey
        let kid: String
        let jwks: String
    }

    private let keyFile: String
    private let issuer: String
    private let lifetime: Int
    private let loaded = Mutex<Loaded?>(nil)

    /// - Parameters:
    ///   - keyFile: the PEM private key; created on first use when missing.
    ///   - issuer: this server's public URL, the `iss` upstreams are told to expect.
    public init(keyFile: String, issuer: String, lifetimeSeconds: Int = 60) {
        self.keyFile = keyFile
        self.issuer = issuer
        self.lifetime = min(max(lifetimeSeconds, 1), 60)
    }

    /// The public key as a JWK Set document, for the upstreams.
    public func jwks() throws -> String { try load().jwks }

    /// A token for one call. `username` repeats `sub` for frameworks whose stock token user
    /// reads it (djangorestframework-simplejwt's `TokenUser.username`).
    public func token(owner: String, audience: String, scopes: [String]) async throws -> String {
        let signer = try load()
        let now = Date()
        let payload = BridgeClaims(
            iss: IssuerClaim(value: issuer), sub: SubjectClaim(value: owner), aud: AudienceClaim(value: [audience]),
            exp: ExpirationClaim(value: now.addingTimeInterval(TimeInterval(lifetime))), iat: IssuedAtClaim(value: now),
            jti: IDClaim(value: UUID().uuidString.lowercased()), scope: scopes.joined(separator: " "), username: owner)
        // A collection per call: JWTKeyCollection is an actor, and one shared by every call would
        // serialize them; adding a key is only bookkeeping.
        let keys = JWTKeyCollection()
        await keys.add(ecdsa: signer.key, kid: JWKIdentifier(string: signer.kid))
        return try await keys.sign(payload, kid: JWKIdentifier(string: signer.kid))
    }

    /// Under the lock, so two first calls cannot both create the key.
    private func load() throws -> Loaded {
        try loaded.withLock { state throws -> Loaded in
            if let state { return state }
            let key = try Self.loadOrCreate(keyFile)
            let publicKey = key.publicKey.x963Representation
            // x963: 0x04 || x (32 bytes) || y (32 bytes).
            let x = Data(publicKey[1..<33]), y = Data(publicKey[33..<65])
            let kid = SHA256.hash(data: publicKey).prefix(8).map { String(format: "%02x", $0) }.joined()
            func base64URL(_ data: Data) -> String {
                data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                    .replacingOccurrences(of: "=", with: "")
            }
            let jwks = """
                {"keys":[{"kty":"EC","crv":"P-256","alg":"ES256","use":"sig","kid":"\(kid)","x":"\(base64URL(x))","y":"\(base64URL(y))"}]}
                """
            let result = Loaded(key: try ES256PrivateKey(backing: key), kid: kid, jwks: jwks)
            state = result
            return result
        }
    }

    private static func loadOrCreate(_ path: String) throws -> P256.Signing.PrivateKey {
        if let pem = try? String(contentsOfFile: path, encoding: .utf8) {
            return try P256.Signing.PrivateKey(pemRepresentation: pem)
        }
        let key = P256.Signing.PrivateKey()
        try PrivateState.createFolder(URL(fileURLWithPath: path).deletingLastPathComponent().path)
        // Created 0600 before the key is written into it.
        try PrivateState.createFile(path)
        try key.pemRepresentation.write(toFile: path, atomically: false, encoding: .utf8)
        return key
    }
}

private struct BridgeClaims: JWTPayload {
    var iss: IssuerClaim
    var sub: SubjectClaim
    var aud: AudienceClaim
    var exp: ExpirationClaim
    var iat: IssuedAtClaim
    var jti: IDClaim
    var scope: String
    var username: String

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
    }
}
