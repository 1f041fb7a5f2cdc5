import Foundation
import Logging
import PlugboardData
import PlugboardJSON

/// A validated authorization request, waiting for the user's login and consent.
public struct AuthorizationRequest: Sendable, Equatable {
    public var client: ClientRecord
    public var redirectURI: String
    public var state: String?
    public var codeChallenge: String
    public var scopes: [String]
    public var resource: String
}

/// What `/authorize` does with a request.
public enum AuthorizationCheck: Sendable, Equatable {
    /// The client or its redirect URI cannot be trusted: show an error page, never redirect.
    case refuse(String)
    /// The client cannot be checked at the moment (its metadata document did not come): an
    /// error page that says to try again, never a redirect.
    case unavailable(String)
    /// Tell the client, at its verified redirect URI.
    case redirectError(redirectURI: String, state: String?, OAuthError)
    case valid(AuthorizationRequest)
}

/// What the token endpoint answers on success.
public struct TokenGrant: Sendable, Equatable {
    public var accessToken: String
    public var expiresIn: Int64
    public var refreshToken: String?
    public var scopes: [String]
}

/// The built-in OAuth 2.1 authorization server: registration, codes with PKCE, tokens with
/// rotation and replay detection, revocation. HTTP-free; `PlugboardServer` maps it to routes.
public final class AuthorizationServer: Sendable {
    public let store: AuthStore
    public let settings: AuthSettings
    let verifier: TokenVerifier
    /// Resolves URL-shaped client ids; nil turns client ID metadata documents off.
    public let documents: ClientMetadataDocuments?
    private let logger: Logger

    public init(store: AuthStore, settings: AuthSettings, verifier: TokenVerifier, documents: ClientMetadataDocuments? = nil, logger: Logger) {
        self.store = store
        self.settings = settings
        self.verifier = verifier
        self.documents = documents
        self.logger = logger
    }

    static var now: Int64 { Int64(Date().timeIntervalSince1970) }

    // MARK: registration

    /// Dynamic client registration (RFC 7591) for public clients.
    public func register(_ metadata: JSONValue, scopes: ScopePolicy) async throws -> (ClientRecord, JSONValue) {
        guard case .object(let fields) = metadata else { throw OAuthError("invalid_client_metadata", "the body must be a JSON object") }
        guard case .array(let values)? = fields["redirect_uris"], !values.isEmpty else {
            throw OAuthError("invalid_redirect_uri", "redirect_uris must list at least one URI")
        }
        var redirectURIs: [String] = []
        for value in values {
            guard case .string(let uri) = value, RedirectURI.isAllowed(uri) else {
                throw OAuthError("invalid_redirect_uri", "redirect URIs must be https, or http on a loopback address, without a fragment: \(value)")
            }
            redirectURIs.append(uri)
        }
        if case .string(let method)? = fields["token_endpoint_auth_method"], method != "none" {
            throw OAuthError(
                "invalid_client_metadata", "token_endpoint_auth_method '\(method)' is not supported: this server registers public clients ('none') with PKCE")
        }
        if case .array(let grants)? = fields["grant_types"],
            let unsupported = grants.first(where: { $0 != .string("authorization_code") && $0 != .string("refresh_token") })
        {
            throw OAuthError("invalid_client_metadata", "grant type \(unsupported) is not supported: use authorization_code and refresh_token")
        }
        var name = "Unnamed client"
        if case .string(let given)? = fields["client_name"], !given.isEmpty { name = String(given.prefix(200)) }
        let now = Self.now
        let client = ClientRecord(id: Secrets.make(prefix: "pbclient_"), name: name, redirectURIs: redirectURIs, origin: .registered, createdAt: now)
        try await store.addClient(client)
        // Clients that never completed an authorization within a day are litter from retries.
        let collected = try await store.collectUnusedClients(registeredBefore: now - 86400)
        let expired = try await store.collectExpiredTokens(before: now - 86400)
        if collected > 0 || expired > 0 {
            logger.info("forgot \(collected) clients that never obtained a grant and \(expired) tokens expired a day ago or more")
        }
        let scope: String = if case .string(let asked)? = fields["scope"] { asked } else { "" }
        let response: JSONValue = .object(
            JSONObject([
                ("client_id", .string(client.id)),
                ("client_id_issued_at", .int(now)),
                ("client_name", .string(client.name)),
                ("redirect_uris", .array(redirectURIs.map(JSONValue.string))),
                ("grant_types", .array([.string("authorization_code"), .string("refresh_token")])),
                ("response_types", .array([.string("code")])),
                ("token_endpoint_auth_method", .string("none")),
                ("scope", .string(scopes.grant(scope).joined(separator: " "))),
            ]))
        return (client, response)
    }

    // MARK: authorization

    /// Checks an authorization request's query in the order RFC 6749 §4.1.2.1 requires: nothing
    /// is redirected until the client and its redirect URI are known good.
    public func check(_ query: [String: String], resource: String, scopes: ScopePolicy) async throws -> AuthorizationCheck {
        guard let clientID = query["client_id"], !clientID.isEmpty else { return .refuse("The request names no client (client_id is missing).") }
        let client: ClientRecord
        if let documents, documents.handles(clientID) {
            switch await documents.client(clientID) {
            case .success(let described): client = described
            // The details (addresses, ports) stay in the log: the page must not become a network scanner.
            case .failure(let error) where error.lasting:
                return .refuse("The application's client metadata document at \(clientID) cannot be used (see the server log for why).")
            case .failure:
                return .unavailable("The application's client metadata document at \(clientID) could not be fetched just now. Try again in a moment.")
            }
        } else if let registered = try await store.client(clientID) {
            client = registered
        } else {
            return .refuse("The application asking for access is not registered here (unknown client_id). Try connecting it again.")
        }
        let redirectURI: String
        if let asked = query["redirect_uri"] {
            guard client.redirectURIs.contains(where: { RedirectURI.matches(requested: asked, registered: $0) }) else {
                return .refuse("The redirect address \(asked) is not one \(client.name) registered, so this request is refused.")
            }
            redirectURI = asked
        } else {
            guard client.redirectURIs.count == 1, let only = client.redirectURIs.first else {
                return .refuse("The request names no redirect_uri and \(client.name) registered several.")
            }
            redirectURI = only
        }
        let state = query["state"]
        // Kept in memory until the user answers: bounded.
        guard (state?.utf8.count ?? 0) <= 1024 else { return .refuse("The request's state parameter is longer than 1024 bytes.") }
        // Errors go back to the redirect URI only for clients an administrator added: anyone can
        // register a client, and an error answered without asking the user must not make this
        // server a redirector to wherever that client points (RFC 9700 §4.11.2).
        func fail(_ error: OAuthError) -> AuthorizationCheck {
            guard client.origin == .cli else {
                return .refuse("This authorization request from \(client.name) is malformed: \(error.description) (\(error.code)).")
            }
            return .redirectError(redirectURI: redirectURI, state: state, error)
        }
        guard query["response_type"] == "code" else { return fail(OAuthError("unsupported_response_type", "only response_type=code is supported")) }
        guard let challenge = query["code_challenge"], !challenge.isEmpty else {
            return fail(.invalidRequest("code_challenge is required (PKCE with S256)"))
        }
        guard query["code_challenge_method"] == "S256" else { return fail(.invalidRequest("code_challenge_method must be S256")) }
        guard PKCE.isWellFormedChallenge(challenge) else { return fail(.invalidRequest("code_challenge must be a base64url SHA-256 (43 characters)")) }
        if let asked = query["resource"], !ResourceIdentifier.matches(asked, canonical: resource) {
            return fail(.invalidTarget("this server is the resource \(resource), not \(asked)"))
        }
        return .valid(
            AuthorizationRequest(
                client: client, redirectURI: redirectURI, state: state, codeChallenge: challenge, scopes: scopes.grant(query["scope"]),
                resource: resource))
    }

    /// Grants `request` for `owner` and returns the single-use code.
    public func issueCode(_ request: AuthorizationRequest, owner: String) async throws -> String {
        let now = Self.now
        let grant = GrantRecord(
            id: Secrets.make(prefix: ""), kind: .oauth, owner: owner, clientID: request.client.id, scopes: request.scopes, resource: request.resource,
            redirectURI: request.redirectURI, codeChallenge: request.codeChallenge, createdAt: now)
        try await store.addGrant(grant)
        let code = Secrets.make(prefix: "pbc_")
        try await store.addToken(digest: Secrets.digest(code), kind: .code, grantID: grant.id, expiresAt: now + settings.codeSeconds, at: now)
        logger.info("authorization granted", metadata: ["owner": "\(owner)", "client": "\(request.client.id)", "scopes": "\(request.scopes.joined(separator: " "))"])
        return code
    }

    // MARK: tokens

    /// The token endpoint: `authorization_code` and `refresh_token` grants.
    public func token(_ form: [String: String], resource: String) async throws -> TokenGrant {
        guard let clientID = form["client_id"], !clientID.isEmpty else { throw OAuthError.invalidRequest("client_id is required") }
        guard try await store.client(clientID) != nil else { throw OAuthError.invalidClient("unknown client \(clientID): register again") }
        if let asked = form["resource"], !ResourceIdentifier.matches(asked, canonical: resource) {
            throw OAuthError.invalidTarget("this server is the resource \(resource), not \(asked)")
        }
        switch form["grant_type"] {
        case "authorization_code": return try await redeemCode(form, clientID: clientID)
        case "refresh_token": return try await refresh(form, clientID: clientID)
        case nil: throw OAuthError.invalidRequest("grant_type is required")
        case let other?: throw OAuthError("unsupported_grant_type", "grant_type \(other) is not supported: use authorization_code or refresh_token")
        }
    }

    private func redeemCode(_ form: [String: String], clientID: String) async throws -> TokenGrant {
        guard let code = form["code"], let verifier = form["code_verifier"] else { throw OAuthError.invalidRequest("code and code_verifier are required") }
        let now = Self.now
        switch try await store.redeem(digest: Secrets.digest(code), kind: .code, at: now) {
        case .unknown:
            throw OAuthError.invalidGrant("unknown authorization code")
        case .replayed(let grantID):
            // A code used twice was intercepted: end everything issued from it (OAuth 2.1 §4.1.3).
            try await revoke(grantID: grantID, reason: "authorization code replayed")
            throw OAuthError.invalidGrant("authorization code already used; the tokens issued from it are revoked")
        case .redeemed(let grant, let expiresAt):
            guard grant.revokedAt == nil else { throw OAuthError.invalidGrant("the authorization was revoked") }
            guard grant.clientID == clientID else { throw OAuthError.invalidGrant("the code was issued to another client") }
            guard let expiresAt, expiresAt >= now else { throw OAuthError.invalidGrant("authorization code expired: authorize again") }
            guard form["redirect_uri"] == grant.redirectURI else {
                throw OAuthError.invalidGrant("redirect_uri must be the one of the authorization request")
            }
            guard let challenge = grant.codeChallenge, PKCE.verify(verifier: verifier, challenge: challenge) else {
                throw OAuthError.invalidGrant("code_verifier does not match the code_challenge")
            }
            return try await issueTokens(grant, at: now)
        }
    }

    private func refresh(_ form: [String: String], clientID: String) async throws -> TokenGrant {
        guard let refreshToken = form["refresh_token"] else { throw OAuthError.invalidRequest("refresh_token is required") }
        let now = Self.now
        switch try await store.redeem(digest: Secrets.digest(refreshToken), kind: .refresh, at: now) {
        case .unknown:
            throw OAuthError.invalidGrant("unknown refresh token")
        case .replayed(let grantID):
            // A rotated refresh token came back: one of two parties holds a stolen copy.
            try await revoke(grantID: grantID, reason: "refresh token reused")
            throw OAuthError.invalidGrant("refresh token already used; the authorization is revoked, authorize again")
        case .redeemed(let grant, let expiresAt):
            guard grant.revokedAt == nil else { throw OAuthError.invalidGrant("the authorization was revoked") }
            guard grant.clientID == clientID else { throw OAuthError.invalidGrant("the refresh token was issued to another client") }
            guard let expiresAt, expiresAt >= now else { throw OAuthError.invalidGrant("refresh token expired: authorize again") }
            guard let user = try await store.user(grant.owner), !user.disabled else { throw OAuthError.invalidGrant("the user is disabled") }
            return try await issueTokens(grant, at: now)
        }
    }

    /// A new access token and a new refresh token (always, for public clients) under `grant`,
    /// which keeps its audience and scopes.
    private func issueTokens(_ grant: GrantRecord, at now: Int64) async throws -> TokenGrant {
        let access = Secrets.make(prefix: "pba_")
        let refresh = Secrets.make(prefix: "pbr_")
        try await store.addToken(digest: Secrets.digest(access), kind: .access, grantID: grant.id, expiresAt: now + settings.accessTokenSeconds, at: now)
        try await store.addToken(digest: Secrets.digest(refresh), kind: .refresh, grantID: grant.id, expiresAt: now + settings.refreshTokenSeconds, at: now)
        return TokenGrant(accessToken: access, expiresIn: settings.accessTokenSeconds, refreshToken: refresh, scopes: grant.scopes)
    }

    /// RFC 7009: revoking any token of a grant ends the grant. Unknown tokens are not an error.
    public func revoke(token: String) async throws {
        guard let grantID = try await store.grantID(ofToken: Secrets.digest(token)) else { return }
        try await revoke(grantID: grantID, reason: "revoked by the client")
    }

    public func revoke(grantID: String, reason: String) async throws {
        if try await store.revokeGrant(grantID, at: Self.now) {
            logger.notice("authorization revoked: \(reason)", metadata: ["grant": "\(grantID.prefix(8))"])
        }
        verifier.forget(grantID: grantID)
    }

    // MARK: static API tokens

    /// A token for scripts and CI, shown once; it does not expire until revoked.
    public func createAPIToken(owner: String, scopes: [String], name: String?) async throws -> (token: String, grantID: String) {
        let now = Self.now
        let grant = GrantRecord(
            id: String(Secrets.make(prefix: "").prefix(12)), kind: .api, owner: owner, clientID: "plugboard-cli", scopes: scopes, resource: "",
            name: name, createdAt: now)
        try await store.addGrant(grant)
        let token = Secrets.make(prefix: "pbk_")
        try await store.addToken(digest: Secrets.digest(token), kind: .api, grantID: grant.id, expiresAt: nil, at: now)
        return (token, grant.id)
    }
}
