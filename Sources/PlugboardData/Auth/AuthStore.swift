import Foundation

/// Users, clients, grants, tokens and consents, on whichever database holds the host's state.
/// Every statement is written once for both backends (see `RowQuerying`).
public struct AuthStore: Sendable {
    let database: any RowQuerying

    // MARK: users

    /// Adds a user; false if the name is taken.
    public func addUser(_ name: String, passwordHash: String, at now: Int64) async throws -> Bool {
        try await database.rows(
            "INSERT INTO plugboard_users (name, password_hash, disabled, created_at) VALUES (?1, ?2, 0, ?3) ON CONFLICT (name) DO NOTHING RETURNING name",
            [.text(name), .text(passwordHash), .integer(now)]
        ).count == 1
    }

    /// False if there is no such user.
    public func setPassword(of name: String, to passwordHash: String) async throws -> Bool {
        try await database.rows(
            "UPDATE plugboard_users SET password_hash = ?2 WHERE name = ?1 RETURNING name", [.text(name), .text(passwordHash)]
        ).count == 1
    }

    /// False if there is no such user.
    public func setDisabled(_ name: String, _ disabled: Bool) async throws -> Bool {
        try await database.rows(
            "UPDATE plugboard_users SET disabled = ?2 WHERE name = ?1 RETURNING name", [.text(name), .integer(disabled ? 1 : 0)]
        ).count == 1
    }

    public func users() async throws -> [UserRecord] {
        try await database.rows("SELECT name, password_hash, disabled, created_at FROM plugboard_users ORDER BY name", []).compactMap(Self.user)
    }

    public func user(_ name: String) async throws -> UserRecord? {
        try await database.rows("SELECT name, password_hash, disabled, created_at FROM plugboard_users WHERE name = ?1", [.text(name)])
            .first.flatMap(Self.user)
    }

    private static func user(_ row: [SQLValue]) -> UserRecord? {
        guard let name = row[0].text, let hash = row[1].text else { return nil }
        return UserRecord(name: name, passwordHash: hash, disabled: row[2].integer != 0, createdAt: row[3].integer ?? 0)
    }

    // MARK: clients

    public func addClient(_ client: ClientRecord) async throws {
        _ = try await database.rows(
            "INSERT INTO plugboard_clients (id, name, redirect_uris, origin, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            [
                .text(client.id), .text(client.name), .text(client.redirectURIs.joined(separator: "\n")), .text(client.origin.rawValue),
                .integer(client.createdAt),
            ])
    }

    /// Adds or refreshes a client described elsewhere (a client metadata document).
    public func upsertClient(_ client: ClientRecord) async throws {
        _ = try await database.rows(
            """
            INSERT INTO plugboard_clients (id, name, redirect_uris, origin, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
            ON CONFLICT (id) DO UPDATE SET name = excluded.name, redirect_uris = excluded.redirect_uris RETURNING id
            """,
            [
                .text(client.id), .text(client.name), .text(client.redirectURIs.joined(separator: "\n")), .text(client.origin.rawValue),
                .integer(client.createdAt),
            ])
    }

    public func client(_ id: String) async throws -> ClientRecord? {
        guard let row = try await database.rows("SELECT id, name, redirect_uris, origin, created_at FROM plugboard_clients WHERE id = ?1", [.text(id)]).first,
            let id = row[0].text, let name = row[1].text, let uris = row[2].text, let origin = row[3].text.flatMap(ClientRecord.Origin.init)
        else { return nil }
        return ClientRecord(
            id: id, name: name, redirectURIs: uris.split(separator: "\n").map(String.init), origin: origin, createdAt: row[4].integer ?? 0)
    }

    /// Forgets registered and metadata-document clients that never obtained a grant: Claude
    /// registers a fresh client on every connection attempt, and anyone can name a document.
    public func collectUnusedClients(registeredBefore cutoff: Int64) async throws -> Int {
        try await database.rows(
            """
            DELETE FROM plugboard_clients WHERE origin IN ('registered', 'metadata') AND created_at < ?1
              AND NOT EXISTS (SELECT 1 FROM plugboard_grants g WHERE g.client_id = plugboard_clients.id) RETURNING id
            """, [.integer(cutoff)]
        ).count
    }

    // MARK: grants and tokens

    public func addGrant(_ grant: GrantRecord) async throws {
        _ = try await database.rows(
            """
            INSERT INTO plugboard_grants (id, kind, owner, client_id, scopes, resource, redirect_uri, code_challenge, name, created_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
            """,
            [
                .text(grant.id), .text(grant.kind.rawValue), .text(grant.owner), .text(grant.clientID), .text(grant.scopes.joined(separator: " ")),
                .text(grant.resource), grant.redirectURI.map(SQLValue.text) ?? .null, grant.codeChallenge.map(SQLValue.text) ?? .null,
                grant.name.map(SQLValue.text) ?? .null, .integer(grant.createdAt),
            ])
    }

    /// Ends the grant and with it every token issued under it. False if it was unknown or already revoked.
    @discardableResult
    public func revokeGrant(_ id: String, at now: Int64) async throws -> Bool {
        try await database.rows(
            "UPDATE plugboard_grants SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL RETURNING id", [.text(id), .integer(now)]
        ).count == 1
    }

    /// Static API tokens, newest first.
    public func apiGrants() async throws -> [GrantRecord] {
        try await database.rows("SELECT \(Self.grantColumns) FROM plugboard_grants WHERE kind = 'api' ORDER BY created_at DESC, id", [])
            .compactMap(Self.grant)
    }

    public func addToken(digest: String, kind: TokenKind, grantID: String, expiresAt: Int64?, at now: Int64) async throws {
        _ = try await database.rows(
            "INSERT INTO plugboard_tokens (digest, kind, grant_id, expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            [.text(digest), .text(kind.rawValue), .text(grantID), expiresAt.map(SQLValue.integer) ?? .null, .integer(now)])
    }

    /// Marks a single-use token used, atomically: of two concurrent redemptions one wins.
    public func redeem(digest: String, kind: TokenKind, at now: Int64) async throws -> Redemption {
        let won = try await database.rows(
            "UPDATE plugboard_tokens SET used_at = ?3 WHERE digest = ?1 AND kind = ?2 AND used_at IS NULL RETURNING grant_id, expires_at",
            [.text(digest), .text(kind.rawValue), .integer(now)])
        if let row = won.first, let grantID = row[0].text {
            guard let grant = try await grant(grantID) else { return .unknown }
            return .redeemed(grant, expiresAt: row[1].integer)
        }
        let seen = try await database.rows("SELECT grant_id FROM plugboard_tokens WHERE digest = ?1 AND kind = ?2", [.text(digest), .text(kind.rawValue)])
        if let grantID = seen.first?[0].text { return .replayed(grantID: grantID) }
        return .unknown
    }

    /// The grant a token of any kind belongs to.
    public func grantID(ofToken digest: String) async throws -> String? {
        try await database.rows("SELECT grant_id FROM plugboard_tokens WHERE digest = ?1", [.text(digest)]).first?[0].text
    }

    /// A bearer token (access or API), with whether its grant and user are still active.
    public func access(digest: String) async throws -> AccessRecord? {
        guard
            let row = try await database.rows(
                """
                SELECT g.id, g.owner, g.client_id, g.scopes, g.resource, t.expires_at, g.revoked_at, u.disabled, g.kind
                FROM plugboard_tokens t JOIN plugboard_grants g ON g.id = t.grant_id LEFT JOIN plugboard_users u ON u.name = g.owner
                WHERE t.digest = ?1 AND t.kind IN ('access', 'api')
                """, [.text(digest)]
            ).first,
            let grantID = row[0].text, let owner = row[1].text, let clientID = row[2].text, let scopes = row[3].text, let resource = row[4].text
        else { return nil }
        return AccessRecord(
            grantID: grantID, owner: owner, clientID: clientID, scopes: Self.scopes(scopes), resource: resource, expiresAt: row[5].integer,
            active: row[6] == .null && row[7].integer == 0, unrestricted: row[8].text == GrantRecord.Kind.api.rawValue && scopes == AuthStore.everyScope)
    }

    /// The scope list of an API token that may call every tool.
    public static let everyScope = "*"

    public func grant(_ id: String) async throws -> GrantRecord? {
        try await database.rows("SELECT \(Self.grantColumns) FROM plugboard_grants WHERE id = ?1", [.text(id)]).first.flatMap(Self.grant)
    }

    /// Drops tokens that expired a day ago or more (codes, access and refresh tokens).
    public func collectExpiredTokens(before cutoff: Int64) async throws -> Int {
        try await database.rows("DELETE FROM plugboard_tokens WHERE expires_at < ?1 RETURNING digest", [.integer(cutoff)]).count
    }

    private static let grantColumns = "id, kind, owner, client_id, scopes, resource, redirect_uri, code_challenge, name, created_at, revoked_at"

    private static func grant(_ row: [SQLValue]) -> GrantRecord? {
        guard let id = row[0].text, let kind = row[1].text.flatMap(GrantRecord.Kind.init), let owner = row[2].text, let clientID = row[3].text,
            let scopes = row[4].text, let resource = row[5].text
        else { return nil }
        return GrantRecord(
            id: id, kind: kind, owner: owner, clientID: clientID, scopes: Self.scopes(scopes), resource: resource, redirectURI: row[6].text,
            codeChallenge: row[7].text, name: row[8].text, createdAt: row[9].integer ?? 0, revokedAt: row[10].integer)
    }

    private static func scopes(_ text: String) -> [String] {
        text.split(separator: " ").map(String.init)
    }

    // MARK: consent

    public func hasConsent(owner: String, clientID: String, scopes: [String]) async throws -> Bool {
        try await !database.rows(
            "SELECT 1 FROM plugboard_consents WHERE owner = ?1 AND client_id = ?2 AND scopes = ?3",
            [.text(owner), .text(clientID), .text(scopes.sorted().joined(separator: " "))]
        ).isEmpty
    }

    public func rememberConsent(owner: String, clientID: String, scopes: [String], at now: Int64) async throws {
        _ = try await database.rows(
            "INSERT INTO plugboard_consents (owner, client_id, scopes, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING RETURNING owner",
            [.text(owner), .text(clientID), .text(scopes.sorted().joined(separator: " ")), .integer(now)])
    }
}

extension SQLiteStore {
    public var auth: AuthStore { AuthStore(database: self) }
}

extension PostgresStore {
    public var auth: AuthStore { AuthStore(database: self) }
}
