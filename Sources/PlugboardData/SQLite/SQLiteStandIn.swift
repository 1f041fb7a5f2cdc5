import Synchronization
import CSQLite

/// A plugin's stand-in: an in-memory database whose TEMP schema holds empty tables with just the
/// declared names and columns (main is empty). A statement is first compiled here: whatever it
/// reaches must then be a declared name, because nothing else exists. Schema-qualified names,
/// CTEs shadowing a main table and catalog reads fail here, with messages that only mention what
/// the plugin wrote or declared.
final class SQLiteStandIn: Sendable {
    private let connection: Mutex<SQLiteConnection>
    private let declared: [String: SQLiteLayout.Table]

    init(tables: [SQLiteLayout.Table]) throws(SQLiteError) {
        let connection = try SQLiteConnection(path: ":memory:")
        for table in tables {
            let columns = table.columns.map { "\(SQLiteLayout.quote($0.name)) \($0.type)" }.joined(separator: ", ")
            try connection.execute("CREATE TEMP TABLE \(SQLiteLayout.quote(table.name)) (\(columns));")
        }
        self.connection = Mutex(connection)
        self.declared = Dictionary(uniqueKeysWithValues: tables.map { ($0.name, $0) })
    }

    /// Checks that `sql` is exactly one SELECT/INSERT/UPDATE/DELETE over declared names, with
    /// parameters written `$1`...`$n`. Returns, for each SQLite parameter slot, which `$k` it is.
    func validate(_ sql: [UInt8], parameterCount: Int, writes: Bool) throws(QueryRefusal) -> [Int] {
        let declared = self.declared
        let sawStatement = Atomic<Bool>(false)
        return try connection.withLock { connection throws(QueryRefusal) -> [Int] in
            connection.setAuthorizer { request in
                let allowed = Self.allows(request, declared: declared, writes: writes)
                if allowed, request.inner == nil, [SQLITE_SELECT, SQLITE_INSERT, SQLITE_UPDATE, SQLITE_DELETE].contains(request.action) {
                    sawStatement.store(true, ordering: .relaxed)
                }
                return allowed
            }
            defer { connection.setAuthorizer(nil) }
            let compiled: (statement: SQLiteStatement?, tail: Int)
            do throws(SQLiteError) {
                compiled = try SQLiteMemoryBudget.applied { () throws(SQLiteError) in try connection.prepare(sql) }
            } catch {
                if SQLiteMemoryBudget.isExceeded(error) { throw QueryRefusal(SQLiteMemoryBudget.exceeded) }
                throw QueryRefusal(error.message == "not authorized" ? "query refused: it uses something this plugin may not use" : error.message)
            }
            guard let statement = compiled.statement else { throw QueryRefusal("the statement is empty") }
            if statement.isExplain { throw QueryRefusal("EXPLAIN is not allowed") }
            if !writes, !statement.isReadOnly { throw QueryRefusal("this tool is read-only: the statement would write") }
            guard sawStatement.load(ordering: .relaxed) else {
                throw QueryRefusal("only SELECT, INSERT, UPDATE and DELETE statements are allowed")
            }
            var slots: [Int] = []
            for index in 1...max(1, statement.parameterCount) where statement.parameterCount > 0 {
                let name = statement.parameterName(index) ?? "?"
                guard name.hasPrefix("$"), let number = Int(name.dropFirst()), number >= 1, number <= parameterCount,
                    name.dropFirst().first != "0"
                else {
                    throw QueryRefusal("parameter \(name) is not allowed: write parameters as $1 ... $\(max(1, parameterCount)), one for each value passed")
                }
                slots.append(number)
            }
            // Whatever follows must compile to nothing (whitespace, comments, a trailing ';').
            var rest = Array(sql[compiled.tail...])
            while !rest.isEmpty {
                let next: (statement: SQLiteStatement?, tail: Int)
                do throws(SQLiteError) {
                    next = try SQLiteMemoryBudget.applied { () throws(SQLiteError) in try connection.prepare(rest) }
                } catch {
                    throw QueryRefusal("only one statement per query is allowed")
                }
                if next.statement != nil { throw QueryRefusal("only one statement per query is allowed") }
                guard next.tail > 0 else { break }
                rest = Array(rest[next.tail...])
            }
            return slots
        }
    }

    /// What a statement may do on the stand-in: read declared names (in TEMP), CTEs and
    /// subqueries, allowed functions; write declared owned tables in tools that write.
    static func allows(_ request: SQLiteAuthorization, declared: [String: SQLiteLayout.Table], writes: Bool) -> Bool {
        switch request.action {
        case SQLITE_SELECT, SQLITE_RECURSIVE:
            return true
        case SQLITE_READ:
            if request.database == nil { return true }
            if request.database == "temp", let table = request.first, declared[table] != nil { return true }
            return request.database == "main" && SQLiteFunctions.tableValued.contains(request.first ?? "")
        case SQLITE_FUNCTION:
            return SQLiteFunctions.allowed.contains(request.second ?? "")
        case SQLITE_INSERT, SQLITE_UPDATE, SQLITE_DELETE:
            guard writes, request.database == "temp", let table = request.first else { return false }
            return declared[table]?.writable == true
        default:
            return false
        }
    }
}
