import Foundation
import PlugboardContracts

/// What the declared tables look like in the database, and what each plugin may reach: built by
/// `prepare` for a generation's manifests, used by every call.
struct SQLiteLayout: Sendable {
    struct Column: Sendable, Equatable {
        let name: String
        let type: String
        let primaryKey: Bool
    }

    struct Table: Sendable, Equatable {
        let name: String
        let columns: [Column]
        /// nil for shared tables.
        let ownerColumn: String?
        /// Columns of each UNIQUE index (primary key included), guarded against duplicates
        /// before a scoped insert or update.
        let uniqueKeys: [[String]]

        var primaryKey: [String] { columns.filter(\.primaryKey).map(\.name) }
        /// Owned tables with a primary key take scoped writes; others are read-only.
        var writable: Bool { ownerColumn != nil && !primaryKey.isEmpty }
    }

    struct Plugin: Sendable {
        let tables: [String: Table]
        /// The main tables (and views) the plugin's declared names read from, found by preparing a
        /// read of each: the real connection's authorizer allows these and nothing else in main.
        let reach: Set<String>
        /// The stand-in: an in-memory connection whose TEMP schema has only the declared tables.
        let standIn: SQLiteStandIn
    }

    /// Grows with every change of declarations; connections rebuild their TEMP objects when theirs differs.
    let version: Int
    let tables: [String: Table]
    let plugins: [String: Plugin]

    static let empty = SQLiteLayout(version: 0, tables: [:], plugins: [:])

    /// The TEMP views (and, for writable owned tables, INSTEAD OF triggers) every real connection
    /// holds: the declared names, filtered to the caller's rows by `pb_owner()`.
    var temporaryObjects: [String] {
        tables.values.sorted { $0.name < $1.name }.flatMap { Self.ddl(for: $0) }
    }

    /// Names of the host's own triggers: inside them the authorizer lets writes reach main.
    var internalTriggers: Set<String> {
        Set(tables.values.filter(\.writable).flatMap { ["pb_\($0.name)_insert", "pb_\($0.name)_update", "pb_\($0.name)_delete"] })
    }

    static func quote(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func ddl(for table: Table) -> [String] {
        let t = quote(table.name)
        let names = table.columns.map(\.name)
        let selected = names.map(quote).joined(separator: ", ")
        guard let owner = table.ownerColumn else {
            return ["CREATE TEMP VIEW \(t) AS SELECT \(selected) FROM main.\(t);"]
        }
        let o = quote(owner)
        var statements = ["CREATE TEMP VIEW \(t) AS SELECT \(selected) FROM main.\(t) WHERE \(o) = pb_owner();"]
        guard table.writable else { return statements }
        let key = table.primaryKey
        let keyMatchesOld = key.map { "\(quote($0)) = OLD.\(quote($0))" }.joined(separator: " AND ")
        // Every unique key is checked first: an INSERT OR REPLACE outside would otherwise turn the
        // trigger's insert into a replace of another owner's row.
        let duplicateGuards = table.uniqueKeys.map { columns in
            let match = columns.map { "\(quote($0)) = NEW.\(quote($0))" }.joined(separator: " AND ")
            return "SELECT RAISE(ABORT, 'duplicate key') WHERE EXISTS (SELECT 1 FROM main.\(t) WHERE \(match));"
        }
        let updateGuards = table.uniqueKeys.map { columns in
            let match = columns.map { "\(quote($0)) = NEW.\(quote($0))" }.joined(separator: " AND ")
            let changed = columns.map { "NEW.\(quote($0)) IS NOT OLD.\(quote($0))" }.joined(separator: " OR ")
            return "SELECT RAISE(ABORT, 'duplicate key') WHERE (\(changed)) AND EXISTS (SELECT 1 FROM main.\(t) WHERE \(match));"
        }
        let values = names.map { $0 == owner ? "pb_owner()" : "NEW.\(quote($0))" }.joined(separator: ", ")
        let assignments = names.filter { $0 != owner }.map { "\(quote($0)) = NEW.\(quote($0))" }.joined(separator: ", ")
        statements.append(
            """
            CREATE TEMP TRIGGER \(quote("pb_\(table.name)_insert")) INSTEAD OF INSERT ON \(t) BEGIN
              SELECT RAISE(ABORT, 'row belongs to another owner') WHERE NEW.\(o) IS NOT NULL AND NEW.\(o) IS NOT pb_owner();
              \(duplicateGuards.joined(separator: "\n  "))
              INSERT INTO main.\(t) (\(selected)) VALUES (\(values));
            END;
            """)
        statements.append(
            """
            CREATE TEMP TRIGGER \(quote("pb_\(table.name)_update")) INSTEAD OF UPDATE ON \(t) BEGIN
              SELECT RAISE(ABORT, 'the owner column is read-only') WHERE NEW.\(o) IS NOT OLD.\(o);
              \(updateGuards.joined(separator: "\n  "))
              UPDATE main.\(t) SET \(assignments) WHERE \(keyMatchesOld) AND \(o) = pb_owner();
            END;
            """)
        statements.append(
            """
            CREATE TEMP TRIGGER \(quote("pb_\(table.name)_delete")) INSTEAD OF DELETE ON \(t) BEGIN
              DELETE FROM main.\(t) WHERE \(keyMatchesOld) AND \(o) = pb_owner();
            END;
            """)
        return statements
    }
}

/// SQLite's functions a plugin may call: the core scalar, aggregate, window, date, JSON and math
/// functions. Left out on purpose: anything reporting on earlier statements of the connection
/// (`changes`, `last_insert_rowid`), the build (`sqlite_compileoption_*`, `sqlite_version`) or
/// handing out pointers (`fts3_tokenizer`).
enum SQLiteFunctions {
    static let allowed: Set<String> = Set(
        """
        abs avg char coalesce concat concat_ws count date datetime julianday strftime time unixepoch timediff group_concat
        string_agg hex ifnull iif if instr length octet_length like glob lower upper ltrim rtrim trim max min nullif printf format
        quote random replace round sign substr substring sum total typeof unicode unhex likely unlikely likelihood zeroblob
        randomblob json json_array json_array_length json_extract json_insert json_object json_patch json_remove json_replace
        json_set json_type json_valid json_quote json_group_array json_group_object json_each json_tree -> ->> row_number rank
        dense_rank percent_rank cume_dist ntile lag lead first_value last_value nth_value acos asin atan atan2 ceil ceiling cos
        degrees exp floor ln log log10 log2 mod pi pow power radians sin sqrt tan trunc
        """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))

    /// Table-valued functions a plugin may read from.
    static let tableValued: Set<String> = ["json_each", "json_tree"]
}
