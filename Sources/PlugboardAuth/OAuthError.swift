/// An error answered by the token, registration or authorization endpoint (RFC 6749 §5.2).
public struct OAuthError: Error, Sendable, Equatable {
    public var code: String
    public var description: String
    /// 401 for client authentication failures, 400 otherwise.
    public var status: Int

    public init(_ code: String, _ description: String, status: Int = 400) {
        self.code = code
        self.description = description
        self.status = status
    }

    public static func invalidRequest(_ description: String) -> OAuthError { OAuthError("invalid_request", description) }
    public static func invalidGrant(_ description: String) -> OAuthError { OAuthError("invalid_grant", description) }
    public static func invalidTarget(_ description: String) -> OAuthError { OAuthError("invalid_target", description) }
    /// Claude re-registers when the token endpoint says its client is unknown.
    public static func invalidClient(_ description: String) -> OAuthError { OAuthError("invalid_client", description, status: 401) }
}
