/// Mints the token an `http` plugin's request carries: the caller's identity for one upstream,
/// signed by the host. The client's own token never leaves the host (the MCP specification
/// forbids passing it through); PlugboardAuth implements this, the composition root hands it in.
public protocol BridgeTokenMinter: Sendable {
    /// A short-lived token with `sub` = `owner`, `aud` = `audience` and the tool's scopes.
    func token(owner: String, audience: String, scopes: [String]) async throws -> String
}
