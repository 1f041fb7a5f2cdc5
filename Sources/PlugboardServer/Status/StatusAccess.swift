import HTTPTypes
import Logging
import PlugboardAuth

/// Who may open `/status`: a client on loopback (the forwarded client behind a trusted proxy, so
/// a local nginx does not make the world local), or a bearer token holding `plugboard:admin`.
/// The page names every plugin, digest and recent caller, so a token for `/mcp` alone is not enough.
struct StatusAccess: Sendable {
    enum Decision: Equatable {
        case allowed
        /// No usable token: 401 with a challenge when tokens are accepted, else 403.
        case unauthenticated
        case forbidden
        case unavailable
    }

    /// Nil with `auth.mode: none`: only loopback clients then.
    let verifier: (any BearerVerifier)?
    let logger: Logger

    func decide(client: String, authorization: String?, resource: String) async -> Decision {
        if Self.isLoopback(client) { return .allowed }
        guard let verifier else { return .forbidden }
        guard let authorization, authorization.count > 7, authorization.prefix(7).lowercased() == "bearer " else { return .unauthenticated }
        let token = authorization.dropFirst(7).trimmingCharacters(in: .whitespaces)
        do {
            switch try await verifier.verify(token, resource: resource) {
            case .valid(let record):
                // Named explicitly: an API token made "for every tool" is not an admin token.
                guard record.scopes.contains(ScopePolicy.admin) else {
                    logger.info("/status refused: the token lacks \(ScopePolicy.admin)", metadata: ["client": "\(record.clientID)", "peer": "\(client)"])
                    return .forbidden
                }
                return .allowed
            case .invalid(let reason):
                logger.info("/status refused: \(reason)", metadata: ["peer": "\(client)"])
                return .unauthenticated
            }
        } catch {
            logger.warning("/status: cannot verify a bearer token: \(error)")
            return .unavailable
        }
    }

    private static let loopback = ["127.0.0.0/8", "::1/128"].compactMap(AddressRange.init)

    /// Parsed, not matched as text: a forwarded entry like `127.evil` is not loopback.
    static func isLoopback(_ address: String) -> Bool {
        loopback.contains { $0.contains(address) }
    }
}
