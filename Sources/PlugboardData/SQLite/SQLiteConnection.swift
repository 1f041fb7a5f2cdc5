import Foundation
import Synchronization
import CSQLite

/// One SQLite connection through the C API (the SQLite that sqlite-nio vendors, 3.54; the system's
/// 3.40 refuses the `main.`-qualified writes in the scoping triggers). The host
/// needs what a higher-level wrapper hides: authorizers, prepare tails, bind-by-name, interrupts.
/// Not thread-safe: use it from one thread at a time (`SQLiteExecutor`).
final class SQLiteConnection: @unchecked Sendable {
    // The handle is only touched by the thread that currently owns the connection, except
    // `interrupt()`, which SQLite allows from any thread.
    let handle: OpaquePointer
    private var authorizerBox: Unmanaged<AuthorizerBox>?

    init(path: String, readOnly: Bool = false) throws(SQLiteError) {
        _ = SQLiteMemoryBudget.installed
        var handle: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_FULLMUTEX
        let status = sqlite_nio_sqlite3_open_v2(path, &handle, flags, nil)
        guard status == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite_nio_sqlite3_errmsg($0)) } ?? "out of memory"
            if let handle { sqlite_nio_sqlite3_close_v2(handle) }
            throw SQLiteError(code: status, message: "cannot open \(path): \(message)")
        }
        self.handle = handle
        sqlite_nio_sqlite3_busy_timeout(handle, 5_000)
        sqlite_nio_sqlite3_extended_result_codes(handle, 1)
    }

    deinit {
        authorizerBox?.release()
        sqlite_nio_sqlite3_close_v2(handle)
    }

    var errorMessage: String { String(cString: sqlite_nio_sqlite3_errmsg(handle)) }

    /// Runs SQL text that returns no rows (may hold several statements).
    func execute(_ sql: String) throws(SQLiteError) {
        var error: UnsafeMutablePointer<CChar>?
        let status = sqlite_nio_sqlite3_exec(handle, sql, nil, nil, &error)
        guard status == SQLITE_OK else {
            let message = error.map { String(cString: $0) } ?? errorMessage
            sqlite_nio_sqlite3_free(error)
            throw SQLiteError(code: status, message: message)
        }
    }

    /// Compiles the first statement of `sql`; `tail` is the byte offset where the rest begins.
    func prepare(_ sql: [UInt8]) throws(SQLiteError) -> (statement: SQLiteStatement?, tail: Int) {
        var statement: OpaquePointer?
        var tailPointer: UnsafePointer<CChar>?
        let (status, tail) = sql.withUnsafeBufferPointer { buffer -> (Int32, Int) in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                let status = sqlite_nio_sqlite3_prepare_v2(handle, chars.baseAddress, Int32(chars.count), &statement, &tailPointer)
                var tail = chars.count
                if let tailPointer, let base = chars.baseAddress { tail = base.distance(to: tailPointer) }
                return (status, tail)
            }
        }
        guard status == SQLITE_OK else { throw SQLiteError(code: status, message: errorMessage) }
        return (statement.map { SQLiteStatement(handle: $0, connection: self) }, tail)
    }

    /// Rows of a query the host itself runs (schema inspection, state), values as JSON.
    func rows(_ sql: String, _ parameters: [SQLValue] = []) throws(SQLiteError) -> [[SQLValue]] {
        guard let statement = try prepare(Array(sql.utf8)).statement else { return [] }
        for (offset, parameter) in parameters.enumerated() { try statement.bind(parameter, at: Int32(offset + 1)) }
        var rows: [[SQLValue]] = []
        while try statement.step() { rows.append(statement.row) }
        return rows
    }

    /// Stops the statement running on this connection; safe from any thread.
    func interrupt() {
        sqlite_nio_sqlite3_interrupt(handle)
    }

    func setLimit(_ limit: Int32, to value: Int32) {
        sqlite_nio_sqlite3_limit(handle, limit, value)
    }

    var changes: Int { Int(sqlite_nio_sqlite3_changes(handle)) }

    /// Installs an authorizer (nil removes it). The policy sees every action the compiler asks about.
    func setAuthorizer(_ policy: (@Sendable (SQLiteAuthorization) -> Bool)?) {
        authorizerBox?.release()
        authorizerBox = nil
        guard let policy else {
            sqlite_nio_sqlite3_set_authorizer(handle, nil, nil)
            return
        }
        let box = Unmanaged.passRetained(AuthorizerBox(policy))
        authorizerBox = box
        sqlite_nio_sqlite3_set_authorizer(handle, { context, action, first, second, database, inner in
            guard let context else { return SQLITE_DENY }
            let policy = Unmanaged<AuthorizerBox>.fromOpaque(context).takeUnretainedValue().policy
            let request = SQLiteAuthorization(
                action: action, first: first.map { String(cString: $0) }, second: second.map { String(cString: $0) },
                database: database.map { String(cString: $0) }, inner: inner.map { String(cString: $0) })
            return policy(request) ? SQLITE_OK : SQLITE_DENY
        }, box.toOpaque())
    }
}

/// One authorizer question: an action code and its arguments (see sqlite3_set_authorizer).
struct SQLiteAuthorization: Sendable, CustomStringConvertible {
    let action: Int32
    /// For READ/UPDATE/INSERT/DELETE: the table; for FUNCTION: nil.
    let first: String?
    /// For READ/UPDATE: the column; for FUNCTION: the function name.
    let second: String?
    /// "main", "temp", or nil for CTEs and subqueries.
    let database: String?
    /// The innermost trigger or view responsible, nil at top level.
    let inner: String?

    var description: String { "\(action)(\(first ?? ""),\(second ?? ""),\(database ?? "-"),\(inner ?? "-"))" }
}

private final class AuthorizerBox {
    let policy: @Sendable (SQLiteAuthorization) -> Bool
    init(_ policy: @escaping @Sendable (SQLiteAuthorization) -> Bool) { self.policy = policy }
}

/// A compiled statement.
final class SQLiteStatement {
    let handle: OpaquePointer
    private let connection: SQLiteConnection

    init(handle: OpaquePointer, connection: SQLiteConnection) {
        self.handle = handle
        self.connection = connection
    }

    deinit {
        sqlite_nio_sqlite3_finalize(handle)
    }

    var isReadOnly: Bool { sqlite_nio_sqlite3_stmt_readonly(handle) != 0 }
    var isExplain: Bool { sqlite_nio_sqlite3_stmt_isexplain(handle) != 0 }
    var parameterCount: Int32 { sqlite_nio_sqlite3_bind_parameter_count(handle) }

    /// The name of parameter `index` (1-based) as written: "$2", "?", ":x" ...
    func parameterName(_ index: Int32) -> String? {
        sqlite_nio_sqlite3_bind_parameter_name(handle, index).map { String(cString: $0) }
    }

    func bind(_ value: SQLValue, at index: Int32) throws(SQLiteError) {
        let status: Int32
        switch value {
        case .null: status = sqlite_nio_sqlite3_bind_null(handle, index)
        case .integer(let int): status = sqlite_nio_sqlite3_bind_int64(handle, index, int)
        case .real(let double): status = sqlite_nio_sqlite3_bind_double(handle, index, double)
        case .text(let text):
            status = sqlite_nio_sqlite3_bind_text(handle, index, text, -1, unsafeBitCast(-1, to: sqlite3_destructor_type.self))
        }
        guard status == SQLITE_OK else { throw SQLiteError(code: status, message: connection.errorMessage) }
    }

    /// Advances to the next row; false when done.
    func step() throws(SQLiteError) -> Bool {
        switch sqlite_nio_sqlite3_step(handle) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let status: throw SQLiteError(code: status, message: connection.errorMessage)
        }
    }

    var columnNames: [String] {
        (0..<sqlite_nio_sqlite3_column_count(handle)).map { String(cString: sqlite_nio_sqlite3_column_name(handle, $0)) }
    }

    /// About what the current row takes as JSON (`ResultBudget`), measured without fetching the
    /// values: asking a blob's size does not expand a zeroblob.
    var rowSize: Int {
        var size = 2
        for column in 0..<sqlite_nio_sqlite3_column_count(handle) {
            switch sqlite_nio_sqlite3_column_type(handle, column) {
            case SQLITE_INTEGER, SQLITE_FLOAT: size += ResultBudget.number
            case SQLITE_NULL: size += ResultBudget.null
            default: size += ResultBudget.value(bytes: Int(sqlite_nio_sqlite3_column_bytes(handle, column)))
            }
        }
        return size
    }

    var row: [SQLValue] {
        (0..<sqlite_nio_sqlite3_column_count(handle)).map { column in
            switch sqlite_nio_sqlite3_column_type(handle, column) {
            case SQLITE_INTEGER: return .integer(sqlite_nio_sqlite3_column_int64(handle, column))
            case SQLITE_FLOAT: return .real(sqlite_nio_sqlite3_column_double(handle, column))
            case SQLITE_NULL: return .null
            default:
                // Text, and blobs rendered as text: plugins speak JSON.
                guard let text = sqlite_nio_sqlite3_column_text(handle, column) else { return .null }
                let count = Int(sqlite_nio_sqlite3_column_bytes(handle, column))
                return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
            }
        }
    }
}

struct SQLiteError: Error, Sendable, CustomStringConvertible {
    let code: Int32
    let message: String
    var description: String { message }
}
