import Foundation
import PlugboardContracts

/// The host's state in the embedded SQLite database.
public final class SQLiteStore: HostStore {
    let executor: SQLiteExecutor

    public init(path: String) throws {
        try SQLiteFiles.createPrivate(path)
        let connection = try SQLiteConnection(path: path)
        // Readers never wait for the writer, and the scoped connections see committed data.
        _ = try connection.rows("PRAGMA journal_mode = WAL")
        executor = SQLiteExecutor(connection: connection, label: "plugboard-sqlite-store")
    }

    public func migrate() async throws -> [String] {
        try await executor.run { connection in
            // IMMEDIATE takes the write lock first: a second instance migrating at the same time
            // waits (busy timeout) and then finds the work done.
            try connection.execute("BEGIN IMMEDIATE")
            do {
                try connection.execute(
                    "CREATE TABLE IF NOT EXISTS plugboard_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
                let done = Set(try connection.rows("SELECT version FROM plugboard_migrations").compactMap { $0.first?.integer })
                var applied: [String] = []
                for migration in HostMigrations.all where !done.contains(Int64(migration.version)) {
                    try connection.execute(migration.sqlite)
                    _ = try connection.rows(
                        "INSERT INTO plugboard_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                        [.integer(Int64(migration.version)), .text(migration.name), .text(ISO8601DateFormatter().string(from: Date()))])
                    applied.append("\(migration.version) \(migration.name)")
                }
                try connection.execute("COMMIT")
                return applied
            } catch {
                try? connection.execute("ROLLBACK")
                throw error
            }
        }
    }

    public func seed(_ path: String) async throws -> Bool {
        let text = try SeedFile.read(path)
        let digest = SeedFile.digest(text)
        return try await executor.run { connection in
            try connection.execute("BEGIN IMMEDIATE")
            do {
                try connection.execute("CREATE TABLE IF NOT EXISTS plugboard_seeds (digest TEXT PRIMARY KEY, file TEXT NOT NULL, applied_at TEXT NOT NULL)")
                guard try connection.rows("SELECT 1 FROM plugboard_seeds WHERE digest = ?1", [.text(digest)]).isEmpty else {
                    try connection.execute("ROLLBACK")
                    return false
                }
                try connection.execute(text)
                _ = try connection.rows(
                    "INSERT INTO plugboard_seeds (digest, file, applied_at) VALUES (?1, ?2, ?3)",
                    [.text(digest), .text(path), .text(ISO8601DateFormatter().string(from: Date()))])
                try connection.execute("COMMIT")
                return true
            } catch {
                try? connection.execute("ROLLBACK")
                throw StoreError.seed(path, failedWith: "\(error)")
            }
        }
    }

    public func append(_ events: [AuditEvent]) async throws {
        guard !events.isEmpty else { return }
        try await executor.run { connection in
            try connection.execute("BEGIN IMMEDIATE")
            do {
                let formatter = ISO8601DateFormatter()
                formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
                for event in events {
                    _ = try connection.rows(
                        """
                        INSERT INTO plugboard_audit (at, owner, client, tool, plugin, arguments_sha256, rows, bytes, duration_ms, outcome, kind)
                        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                        """,
                        [
                            .text(formatter.string(from: event.at)), .text(event.owner), event.client.map(SQLValue.text) ?? .null,
                            .text(event.tool), .text(event.plugin), .text(event.argumentsDigest), .integer(Int64(event.rows)),
                            .integer(Int64(event.bytes)), .real(event.duration.timeInterval * 1000), .text(event.outcome.rawValue),
                            .text(event.kind.rawValue),
                        ])
                }
                try connection.execute("COMMIT")
            } catch {
                try? connection.execute("ROLLBACK")
                throw error
            }
        }
    }

    public func audit(limit: Int, after: Int64?) async throws -> [AuditRecord] {
        try await executor.run { connection in
            let rows = try connection.rows(
                """
                SELECT id, at, owner, client, tool, plugin, arguments_sha256, rows, bytes, duration_ms, outcome, kind FROM (
                  SELECT * FROM plugboard_audit WHERE id > ?1 ORDER BY id DESC LIMIT ?2
                ) ORDER BY id
                """,
                [.integer(after ?? 0), .integer(Int64(limit))])
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return rows.compactMap { row in
                guard let id = row[0].integer, let at = row[1].text.flatMap(formatter.date(from:)), let owner = row[2].text, let tool = row[4].text,
                    let plugin = row[5].text, let digest = row[6].text, let outcome = row[10].text.flatMap(AuditEvent.Outcome.init(rawValue:))
                else { return nil }
                let milliseconds: Double = if case .real(let value) = row[9] { value } else { Double(row[9].integer ?? 0) }
                return AuditRecord(
                    id: id,
                    event: AuditEvent(
                        at: at, owner: owner, client: row[3].text, kind: row[11].text.flatMap(AuditEvent.Kind.init(rawValue:)) ?? .tool, tool: tool,
                        plugin: plugin, argumentsDigest: digest,
                        rows: Int(row[7].integer ?? 0), bytes: Int(row[8].integer ?? 0), duration: .microseconds(Int64(milliseconds * 1000)),
                        outcome: outcome))
            }
        }
    }
}
