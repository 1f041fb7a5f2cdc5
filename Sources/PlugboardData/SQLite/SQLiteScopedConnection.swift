import Foundation
import PlugboardJSON
import Synchronization
import CSQLite

/// A connection to the real database that runs plugin statements: its TEMP schema holds the
/// declared names as views filtered by `pb_owner()`, the owner of the call in progress.
final class SQLiteScopedConnection: @unchecked Sendable {
    // Used by one executor thread at a time; `interrupt` alone may come from the timer thread.
    let connection: SQLiteConnection
    private let owner: OwnerCell
    private var layoutVersion = -1
    private let call = Mutex<UInt64>(0)

    init(path: String) throws(SQLiteError) {
        connection = try SQLiteConnection(path: path)
        owner = OwnerCell()
        // A plugin cannot build huge values to exhaust memory.
        connection.setLimit(SQLITE_LIMIT_LENGTH, to: 10_000_000)
        let status = sqlite_nio_sqlite3_create_function_v2(
            connection.handle, "pb_owner", 0, SQLITE_UTF8 | SQLITE_DIRECTONLY, Unmanaged.passUnretained(owner).toOpaque(),
            { context, _, _ in
                guard let context, let data = sqlite_nio_sqlite3_user_data(context) else { return }
                guard let owner = Unmanaged<OwnerCell>.fromOpaque(data).takeUnretainedValue().owner else {
                    sqlite_nio_sqlite3_result_error(context, "no owner", -1)
                    return
                }
                sqlite_nio_sqlite3_result_text(context, owner, -1, unsafeBitCast(-1, to: sqlite3_destructor_type.self))
            }, nil, nil, nil)
        guard status == SQLITE_OK else { throw SQLiteError(code: status, message: "cannot register pb_owner: \(connection.errorMessage)") }
    }

    /// Rebuilds the TEMP views and triggers when the declarations changed since the last call.
    func adopt(_ layout: SQLiteLayout) throws(SQLiteError) {
        guard layoutVersion != layout.version else { return }
        let existing = try connection.rows("SELECT type, name FROM temp.sqlite_master WHERE type IN ('view', 'trigger')")
        for row in existing {
            guard case .text(let type) = row[0], case .text(let name) = row[1], type == "view" else { continue }
            try connection.execute("DROP VIEW IF EXISTS temp.\(SQLiteLayout.quote(name));")  // drops its triggers too
        }
        for statement in layout.temporaryObjects { try connection.execute(statement) }
        layoutVersion = layout.version
    }

    /// Runs a validated statement for `owner`: in a transaction (rolled back for read tools),
    /// under the real-side authorizer, with a timeout and a row cap.
    func run(
        _ sql: [UInt8], slots: [Int], parameters: [JSONValue], owner: String, plugin: SQLiteLayout.Plugin, internalTriggers: Set<String>,
        writes: Bool, maxRows: Int, timeout: Duration, budget: Int
    ) throws(QueryRefusal) -> QueryRows {
        do {
            try connection.execute(writes ? "BEGIN IMMEDIATE" : "BEGIN")
        } catch {
            throw QueryRefusal("the database is busy; try again")
        }
        self.owner.owner = owner
        connection.setAuthorizer { request in
            Self.allows(request, plugin: plugin, internalTriggers: internalTriggers, writes: writes)
        }
        let callNumber = call.withLock { number -> UInt64 in
            number += 1
            return number
        }
        // The interrupt is connection-wide: a timer that fires late must not stop the next call.
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout.timeInterval) { [self] in
            call.withLock { number in if number == callNumber { connection.interrupt() } }
        }
        var outcome: Result<QueryRows, QueryRefusal>
        plugboard_sqlite_budget_begin(SQLiteMemoryBudget.statementBytes)
        do throws(SQLiteError) {
            guard let statement = try connection.prepare(sql).statement else { throw SQLiteError(code: SQLITE_MISUSE, message: "empty statement") }
            for (offset, number) in slots.enumerated() {
                try statement.bind(Self.value(parameters[number - 1]), at: Int32(offset + 1))
            }
            var rows: [[JSONValue]] = []
            var truncated = false
            var size = 0
            while try statement.step() {
                if rows.count == maxRows {
                    truncated = true
                    break
                }
                // Measured before the values are fetched: a row over the budget is never copied.
                size += statement.rowSize
                guard size <= budget else { break }
                rows.append(statement.row.map(\.json))
            }
            outcome =
                size > budget
                ? .failure(ResultBudget.tooLarge(budget))
                : .success(QueryRows(columns: statement.columnNames, rows: rows, truncated: truncated, rowsAffected: writes ? connection.changes : nil))
        } catch {
            outcome = .failure(QueryRefusal(Self.message(for: error, timeout: timeout)))
        }
        // Closed before the COMMIT or ROLLBACK, which must never fail for want of memory.
        _ = plugboard_sqlite_budget_end()
        call.withLock { $0 += 1 }
        connection.setAuthorizer(nil)
        self.owner.owner = nil
        if writes, case .success = outcome {
            do {
                try connection.execute("COMMIT")
            } catch {
                try? connection.execute("ROLLBACK")
                outcome = .failure(QueryRefusal("the write could not be committed: \(error.message)"))
            }
        } else {
            try? connection.execute("ROLLBACK")
        }
        return try outcome.get()
    }

    /// The real connection's policy, defence in depth behind the stand-in: reads reach only the
    /// TEMP views of this plugin's declared names and the main tables behind them; writes to main
    /// happen only inside the host's own triggers.
    static func allows(_ request: SQLiteAuthorization, plugin: SQLiteLayout.Plugin, internalTriggers: Set<String>, writes: Bool) -> Bool {
        let table = request.first ?? ""
        switch request.action {
        case SQLITE_SELECT, SQLITE_RECURSIVE:
            return true
        case SQLITE_READ:
            switch request.database {
            case nil: return true
            case "temp": return plugin.tables[table] != nil
            case "main": return plugin.reach.contains(table) || SQLiteFunctions.tableValued.contains(table)
            default: return false
            }
        case SQLITE_FUNCTION:
            let name = request.second ?? ""
            if SQLiteFunctions.allowed.contains(name) { return true }
            // Only the host's views and triggers may ask who the owner is.
            return name == "pb_owner" && (plugin.tables[request.inner ?? ""] != nil || internalTriggers.contains(request.inner ?? ""))
        case SQLITE_INSERT, SQLITE_UPDATE, SQLITE_DELETE:
            guard writes, plugin.tables[table]?.writable == true else { return false }
            if request.database == "temp" { return true }
            return request.database == "main" && internalTriggers.contains(request.inner ?? "")
        default:
            return false
        }
    }

    static func value(_ json: JSONValue) -> SQLValue {
        switch json {
        case .null: .null
        case .bool(let bool): .integer(bool ? 1 : 0)
        case .int(let int): .integer(int)
        case .double(let double): .real(double)
        case .string(let string): .text(string)
        case .array, .object: .null
        }
    }

    /// What a plugin may be told about a failure: messages from the host's own triggers and plain
    /// data errors; anything that might name what the plugin did not write becomes generic.
    static func message(for error: SQLiteError, timeout: Duration) -> String {
        let primary = error.code & 0xFF
        if primary == SQLITE_INTERRUPT { return "the query took longer than its \(Int(timeout.timeInterval * 1000)) ms time limit" }
        if SQLiteMemoryBudget.isExceeded(error) { return SQLiteMemoryBudget.exceeded }
        let ownMessages = ["row belongs to another owner", "duplicate key", "the owner column is read-only", "integer overflow", "string or blob too big"]
        if ownMessages.contains(error.message) { return error.message }
        switch primary {
        case SQLITE_CONSTRAINT: return "the write breaks a constraint of the table"
        case SQLITE_AUTH: return "query refused: it uses something this plugin may not use"
        case SQLITE_BUSY, SQLITE_LOCKED: return "the database is busy; try again"
        default: return "the query failed (SQLite error \(primary))"
        }
    }
}

/// The owner of the call running on a connection, for `pb_owner()`.
private final class OwnerCell: @unchecked Sendable {
    // Read by pb_owner() on the connection's own thread while a call runs there.
    var owner: String?
}

extension SQLValue {
    var json: JSONValue {
        switch self {
        case .null: .null
        case .integer(let int): .int(int)
        case .real(let double): .double(double)
        case .text(let text): .string(text)
        }
    }
}

extension Duration {
    var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
