import PlugboardData

/// Lifetimes of what the authorization server issues.
public struct AuthSettings: Sendable, Equatable {
    public var accessTokenSeconds: Int64
    public var refreshTokenSeconds: Int64
    public var codeSeconds: Int64
    /// Test only: authorization requests are granted for this user without the pages.
    public var autoConsentUser: String?

    public init(accessTokenSeconds: Int64 = 3600, refreshTokenSeconds: Int64 = 30 * 86400, codeSeconds: Int64 = 300, autoConsentUser: String? = nil) {
        self.accessTokenSeconds = accessTokenSeconds
        self.refreshTokenSeconds = refreshTokenSeconds
        self.codeSeconds = codeSeconds
        self.autoConsentUser = autoConsentUser
    }
}

/// The scopes this server knows: `mcp` (use the server and its unscoped tools) and every scope a
/// loaded tool declares.
public struct ScopePolicy: Sendable, Equatable {
    public static let base = "mcp"
    /// Opens `/status` to a token from off loopback. Never offered or granted by the sign-in flow,
    /// even when a manifest declares it: any user can consent, so only the operator grants it
    /// (`plugboard token create --scopes "mcp plugboard:admin"`, or an external issuer).
    public static let admin = "plugboard:admin"
    public let supported: [String]
    /// Words for people, from the manifests, for the consent page.
    public let descriptions: [String: String]

    public init(toolScopes: Set<String>, descriptions: [String: String] = [:]) {
        supported = [Self.base] + toolScopes.subtracting([Self.base, Self.admin]).sorted()
        self.descriptions = descriptions
    }

    /// Whether a token lacks the base scope (API tokens without scopes hold every scope).
    public static func lacksBase(_ record: AccessRecord) -> Bool {
        !record.unrestricted && !record.scopes.contains(base)
    }

    /// What a client asking for `requested` gets: the known scopes among them, or every scope when
    /// it named none this server knows (Claude asks for `claudeai`: down-scoped, not refused).
    public func grant(_ requested: String?) -> [String] {
        let asked = Set((requested ?? "").split(separator: " ").map(String.init))
        let known = supported.filter(asked.contains)
        guard !known.isEmpty else { return supported }
        return known.contains(Self.base) ? known : [Self.base] + known
    }
}
