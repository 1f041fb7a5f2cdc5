/// What the authorization server keeps. Times are Unix seconds; secrets never appear here, only
/// their SHA-256 digests.

public struct UserRecord: Sendable, Equatable {
    public var name: String
    /// A bcrypt hash.
    public var passwordHash: String
    public var disabled: Bool
    public var createdAt: Int64
}

public struct ClientRecord: Sendable, Equatable {
    /// How a client came to exist: registered dynamically (RFC 7591), added from the CLI, or
    /// described by its client ID metadata document.
    public enum Origin: String, Sendable {
        case registered, cli, metadata
    }

    public var id: String
    public var name: String
    public var redirectURIs: [String]
    public var origin: Origin
    public var createdAt: Int64

    public init(id: String, name: String, redirectURIs: [String], origin: Origin, createdAt: Int64) {
        self.id = id
        self.name = name
        self.redirectURIs = redirectURIs
        self.origin = origin
        self.createdAt = createdAt
    }
}

/// One authorization: a user's consent to a client (or a static API token), with everything the
/// tokens issued under it share. Revoking it ends every token issued from it.
public struct GrantRecord: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case oauth, api
    }

    public var id: String
    public var kind: Kind
    public var owner: String
    public var clientID: String
    public var scopes: [String]
    /// The audience (RFC 8707) the tokens are bound to; empty for API tokens, which hold for this server under any URL.
    public var resource: String
    /// The authorization request's redirect URI and PKCE challenge, checked when the code is redeemed.
    public var redirectURI: String?
    public var codeChallenge: String?
    /// An API token's label.
    public var name: String?
    public var createdAt: Int64
    public var revokedAt: Int64?

    public init(
        id: String, kind: Kind, owner: String, clientID: String, scopes: [String], resource: String, redirectURI: String? = nil,
        codeChallenge: String? = nil, name: String? = nil, createdAt: Int64, revokedAt: Int64? = nil
    ) {
        self.id = id
        self.kind = kind
        self.owner = owner
        self.clientID = clientID
        self.scopes = scopes
        self.resource = resource
        self.redirectURI = redirectURI
        self.codeChallenge = codeChallenge
        self.name = name
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }
}

public enum TokenKind: String, Sendable {
    case code, access, refresh, api
}

/// A bearer token as the resource server needs it.
public struct AccessRecord: Sendable, Equatable {
    public var grantID: String
    public var owner: String
    public var clientID: String
    public var scopes: [String]
    public var resource: String
    public var expiresAt: Int64?
    /// False when the grant was revoked or the user disabled.
    public var active: Bool
    /// An API token created without scopes: every tool. Only this server's CLI makes one.
    public var unrestricted: Bool

    public init(
        grantID: String, owner: String, clientID: String, scopes: [String], resource: String, expiresAt: Int64?, active: Bool,
        unrestricted: Bool = false
    ) {
        self.grantID = grantID
        self.owner = owner
        self.clientID = clientID
        self.scopes = scopes
        self.resource = resource
        self.expiresAt = expiresAt
        self.active = active
        self.unrestricted = unrestricted
    }
}

/// The outcome of redeeming a single-use token (a code or a refresh token).
public enum Redemption: Sendable, Equatable {
    case redeemed(GrantRecord, expiresAt: Int64?)
    /// It was redeemed before: a replay, so the caller revokes the grant.
    case replayed(grantID: String)
    case unknown
}
