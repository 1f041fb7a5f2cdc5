import Foundation
import PlugboardPlugins

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
                """)
    ]
}
