import Hummingbird
import PlugboardAuth
import PlugboardPlugins

/// Where upstreams of `kind: http` plugins fetch the key that signs their bridge tokens.
let bridgeJWKSPath = "/.well-known/plugboard-bridge-jwks.json"

/// The signer as PluginHost sees it: PlugboardPlugins and PlugboardAuth do not know each other.
struct BridgeTokens: BridgeTokenMinter {
    let signer: BridgeTokenSigner

    func token(owner: String, audience: String, scopes: [String]) async throws -> String {
        try await signer.token(owner: owner, audience: audience, scopes: scopes)
    }
}

extension BridgeTokenSigner {
    /// Serves the public key set, unauthenticated: upstreams fetch it with no credentials.
    func addJWKSRoute(to router: Router<PlugboardRequestContext>) {
        router.get(RouterPath(bridgeJWKSPath)) { [self] _, _ -> Response in
            let body = try jwks()
            return Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "max-age=300"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
        }
    }
}
