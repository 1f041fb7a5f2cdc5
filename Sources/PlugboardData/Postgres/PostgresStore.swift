import Foundation
import Logging
import PlugboardContracts
import PostgresNIO

/// The host's state in PostgreSQL (shared by every instance behind the load balancer).
public final class PostgresStore: HostStore {
    let pool: PostgresPool
    let logger: Logger

    public init(location: PostgresLocation, logger: Logger) throws {
        self.pool = try PostgresPool(location, logger: logger)
        self.logger = logger
    }

    public func migrate() async throws -> [String] {
        try await pool.probe(logger: logger)
        do {
            return try await applyMigrations()
        } catch {
            throw StoreError("cannot migrate the database \(pool.location): \(PostgresErrorText.describe(error))")
        }
    }

    private func applyMigrations() async throws -> [String] {
        try await pool.client.withTransaction(logger: logger) { connection in
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS plugboard_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                logger: logger)
            // Two instances starting together: the second waits here, then finds the work done.
            try await connection.query("LOCK TABLE plugboard_migrations IN EXCLUSIVE MODE", logger: logger)
            var done = Set<Int>()
            for try await version in try await connection.query("SELECT version FROM plugboard_migrations", logger: logger).decode(Int.self) {
                done.insert(version)
            }
            var applied: [String] = []
            for migration in HostMigrations.all where !done.contains(migration.version) {
                // The extended protocol takes one statement per query.
                for statement in SQLScript.statements(migration.postgres) {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO plugboard_migrations (version, name) VALUES (\(migration.version), \(migration.name))", logger: logger)
                applied.append("\(migration.version) \(migration.name)")
            }
            return applied
        }
    }

    public func seed(_ path: String) async throws -> Bool {
        let text = try SeedFile.read(path)
        do {
            return try await seed(text, digest: SeedFile.digest(text), path: path)
        } catch {
            throw StoreError.seed(path, failedWith: PostgresErrorText.describe(error))
        }
    }

    private func seed(_ text: String, digest: String, path: String) async throws -> Bool {
        try await pool.client.withTransaction(logger: logger) { connection in
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS plugboard_seeds (digest TEXT PRIMARY KEY, file TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                logger: logger)
            try await connection.query("LOCK TABLE plugboard_seeds IN EXCLUSIVE MODE", logger: logger)
            let seen = try await connection.query("SELECT 1 FROM plugboard_seeds WHERE digest = \(digest)", logger: logger)
            for try await _ in seen { return false }
            for statement in SQLScript.statements(text) {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
            try await connection.query("INSERT INTO plugboard_seeds (digest, file) VALUES (\(digest), \(path))", logger: logger)
            return true
        }
    }

    public func append(_ events: [AuditEvent]) async throws {
        guard !events.isEmpty else { return }
        try await pool.client.withTransaction(logger: logger) { connection in
            for event in events {
                try await connection.query(
                    """
                    INSERT INTO plugboard_audit (at, owner, client, tool, plugin, arguments_sha256, rows, bytes, duration_ms, outcome, kind)
                    VALUES (\(event.at), \(event.owner), \(event.client), \(event.tool), \(event.plugin), \(event.argumentsDigest),
                            \(event.rows), \(event.bytes), \(event.duration.timeInterval * 1000), \(event.outcome.rawValue), \(event.kind.rawValue))
                    """, logger: logger)
            }
        }
    }

    public func audit(limit: Int, after: Int64?) async throws -> [AuditRecord] {
        let rows = try await pool.client.query(
            """
            SELECT id, at, owner, client, tool, plugin, arguments_sha256, rows, bytes, duration_ms, outcome, kind FROM (
              SELECT * FROM plugboard_audit WHERE id > \(after ?? 0) ORDER BY id DESC LIMIT \(limit)
            ) newest ORDER BY id
            """, logger: logger)
        var records: [AuditRecord] = []
        for try await (id, at, owner, client, tool, plugin, digest, count, bytes, milliseconds, outcome, kind) in rows.decode(
            (Int64, Date, String, String?, String, String, String, Int, Int, Double, String, String).self)
        {
            guard let outcome = AuditEvent.Outcome(rawValue: outcome) else { continue }
            records.append(
                AuditRecord(
                    id: id,
                    event: AuditEvent(
                        at: at, owner: owner, client: client, kind: AuditEvent.Kind(rawValue: kind) ?? .tool, tool: tool, plugin: plugin,
                        argumentsDigest: digest, rows: count, bytes: bytes,
                        duration: .microseconds(Int64(milliseconds * 1000)), outcome: outcome)))
        }
        return records
    }
}
