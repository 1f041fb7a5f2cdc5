import Foundation
import PlugboardContracts

/// Where the host keeps its own state (audit log now; users, clients and tokens with OAuth),
/// on SQLite or PostgreSQL.
public protocol HostStore: Sendable {
    /// Applies the migrations this database lacks, in order; safe to run twice and from two
    /// instances at once. Returns the names of those applied now.
    func migrate() async throws -> [String]

    /// Runs a seed SQL file once (remembered by its digest). Returns false if it ran before.
    func seed(_ path: String) async throws -> Bool

    func append(_ events: [AuditEvent]) async throws

    /// The newest audit records, oldest first; with `after`, only records newer than that id.
    func audit(limit: Int, after: Int64?) async throws -> [AuditRecord]

    /// Users, clients, grants and tokens of the authorization server.
    var auth: AuthStore { get }
}

/// An audit event as stored, with its id.
public struct AuditRecord: Sendable, Equatable {
    public var id: Int64
    public var event: AuditEvent
}

/// A versioned change to the host's schema.
struct Migration {
    let version: Int
    let name: String
    let sqlite: String
    let postgres: String
}

enum HostMigrations {
    static let all: [Migration] = [
        Migration(
            version: 1, name: "audit log",
            sqlite: """
                CREATE TABLE plugboard_audit (
                  id INTEGER PRIMARY KEY,
                  at TEXT NOT NULL,
                  owner TEXT NOT NULL,
                  client TEXT,
                  tool TEXT NOT NULL,
                  plugin TEXT NOT NULL,
                  arguments_sha256 TEXT NOT NULL,
                  rows INTEGER NOT NULL,
                  bytes INTEGER NOT NULL,
                  duration_ms REAL NOT NULL,
                  outcome TEXT NOT NULL
                );
                CREATE INDEX plugboard_audit_owner_at ON plugboard_audit (owner, at);
                """,
            postgres: """
                CREATE TABLE plugboard_audit (
                  id BIGSERIAL PRIMARY KEY,
                  at TIMESTAMPTZ NOT NULL,
                  owner TEXT NOT NULL,
                  client TEXT,
                  tool TEXT NOT NULL,
                  plugin TEXT NOT NULL,
                  arguments_sha256 TEXT NOT NULL,
                  rows INTEGER NOT NULL,
                  bytes INTEGER NOT NULL,
                  duration_ms DOUBLE PRECISION NOT NULL,
                  outcome TEXT NOT NULL
                );
                CREATE INDEX plugboard_audit_owner_at ON plugboard_audit (owner, at);
                """),
        Migration(version: 2, name: "authorization server", sqlite: authorization, postgres: authorization),
        Migration(
            version: 3, name: "audited resources and prompts",
            sqlite: "ALTER TABLE plugboard_audit ADD COLUMN kind TEXT NOT NULL DEFAULT 'tool';",
            postgres: "ALTER TABLE plugboard_audit ADD COLUMN kind TEXT NOT NULL DEFAULT 'tool';"),
    ]

    /// Only integers and text, so one text serves both databases.
    private static let authorization = """
        CREATE TABLE plugboard_users (
          name TEXT PRIMARY KEY,
          password_hash TEXT NOT NULL,
          disabled BIGINT NOT NULL DEFAULT 0,
          created_at BIGINT NOT NULL
        );
        CREATE TABLE plugboard_clients (
          id TEXT PRIMARY KEY,
          name TEXT NOT NULL,
          redirect_uris TEXT NOT NULL,
          origin TEXT NOT NULL,
          created_at BIGINT NOT NULL
        );
        CREATE TABLE plugboard_grants (
          id TEXT PRIMARY KEY,
          kind TEXT NOT NULL,
          owner TEXT NOT NULL,
          client_id TEXT NOT NULL,
          scopes TEXT NOT NULL,
          resource TEXT NOT NULL,
          redirect_uri TEXT,
          code_challenge TEXT,
          name TEXT,
          created_at BIGINT NOT NULL,
          revoked_at BIGINT
        );
        CREATE INDEX plugboard_grants_client ON plugboard_grants (client_id);
        CREATE TABLE plugboard_tokens (
          digest TEXT PRIMARY KEY,
          kind TEXT NOT NULL,
          grant_id TEXT NOT NULL,
          expires_at BIGINT,
          used_at BIGINT,
          created_at BIGINT NOT NULL
        );
        CREATE INDEX plugboard_tokens_grant ON plugboard_tokens (grant_id);
        CREATE INDEX plugboard_tokens_expiry ON plugboard_tokens (expires_at);
        CREATE TABLE plugboard_consents (
          owner TEXT NOT NULL,
          client_id TEXT NOT NULL,
          scopes TEXT NOT NULL,
          created_at BIGINT NOT NULL,
          PRIMARY KEY (owner, client_id, scopes)
        );
        """
}
