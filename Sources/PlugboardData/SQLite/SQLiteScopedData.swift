import CPlugboard
import Logging
import PlugboardJSON
import PlugboardContracts
import Synchronization
import CSQLite

/// Per-owner scoped queries on SQLite (the embedded default).
///
/// SQLite has no row-level security, so the guarantee is built from its own parts (README "Data: per-owner scoping",
/// verified against the adversarial suite):
/// 1. a lexical gate on the statement kind;
/// 2. the statement is compiled on the plugin's *stand-in*, where only the declared names exist:
///    schema-qualified names, CTEs shadowing a table, catalogs, pragmas and undeclared tables
///    fail there, and exactly one statement with `$n` parameters must remain;
/// 3. the same text then runs on the real connection, where the declared names are TEMP views
///    filtered by the caller (`pb_owner()`), writes go through INSTEAD OF triggers that force
///    the owner column, and an authorizer refuses anything outside the plugin's tables;
/// 4. read tools always roll back; a timer interrupts a statement past its time limit; rows stop
///    at the tool's cap.
public final class SQLiteScopedData: DataService, DataReadiness {
    private let path: String
    private let pool: ResourcePool<(connection: SQLiteScopedConnection, executor: SQLiteExecutor)>
    private let setup: SQLiteExecutor
    private let layout = Mutex(SQLiteLayout.empty)
    /// Why the last preparation could not read the schema (`DataReadiness`).
    private let schemaFailure = Mutex<String?>(nil)
    private let logger: Logger

    /// - Parameter connections: how many statements may run at once.
    public init(path: String, connections: Int = 2, logger: Logger) throws {
        self.path = path
        self.logger = logger
        try SQLiteFiles.createPrivate(path)
        var workers: [(connection: SQLiteScopedConnection, executor: SQLiteExecutor)] = []
        for number in 0..<max(1, connections) {
            let connection = try SQLiteScopedConnection(path: path)
            workers.append((connection, SQLiteExecutor(connection: connection.connection, label: "plugboard-sqlite-\(number)")))
        }
        self.pool = ResourcePool(workers)
        self.setup = SQLiteExecutor(connection: try SQLiteConnection(path: path), label: "plugboard-sqlite-setup")
    }

    public func prepare(_ declarations: [PluginTables]) async -> [String: String] {
        let current = layout.withLock { $0 }
        do {
            let (next, problems) = try await setup.run { connection in try Self.layout(for: declarations, on: connection, previous: current) }
            layout.withLock { $0 = next }
            schemaFailure.withLock { $0 = nil }
            return problems
        } catch {
            logger.error("cannot read the database schema: \(error)")
            schemaFailure.withLock { $0 = "cannot read the database schema: \(error)" }
            return Dictionary(declarations.map { ($0.plugin, "cannot read the database schema: \(error)") }, uniquingKeysWith: { first, _ in first })
        }
    }

    public var unready: String? {
        schemaFailure.withLock { $0 }
    }

    public func query(_ request: [UInt8], scope: QueryScope, owner: String) async -> QueryReply {
        let parsed: ScopedQueryRequest
        do {
            (parsed, _) = try ScopedQueryRequest.admit(request, writes: scope.writes)
        } catch {
            return .failure(error.status, error.message)
        }
        let layout = self.layout.withLock { $0 }
        guard let plugin = layout.plugins[scope.plugin] else {
            return .failure(PB_INVALID_ARGUMENTS, "query refused: plugin '\(scope.plugin)' declares no tables (add them under data.tables in its manifest)")
        }
        let sql = Array(parsed.sql.utf8)
        let internalTriggers = layout.internalTriggers
        do {
            let rows = try await pool.with { worker in
                let connection = worker.connection
                // The stand-in's compile runs here too: a statement that takes long to compile
                // holds a thread of the pool, never one of Swift's cooperative threads.
                return try await worker.executor.run { _ -> Result<QueryRows, QueryRefusal> in
                    let slots: [Int]
                    do throws(QueryRefusal) {
                        slots = try plugin.standIn.validate(sql, parameterCount: parsed.parameters.count, writes: scope.writes)
                    } catch {
                        return .failure(QueryRefusal("query refused: \(error.message)", status: PB_INVALID_ARGUMENTS))
                    }
                    do {
                        try connection.adopt(layout)
                    } catch {
                        self.logger.error("cannot set up the scoped views on a connection: \(error)")
                        return .failure(QueryRefusal("the database schema could not be prepared"))
                    }
                    return Result { () throws(QueryRefusal) in
                        try connection.run(
                            sql, slots: slots, parameters: parsed.parameters, owner: owner, plugin: plugin, internalTriggers: internalTriggers,
                            writes: scope.writes, maxRows: scope.maxRows, timeout: scope.timeout, budget: scope.maxResultBytes)
                    }
                }
            }.get()
            return QueryReply(status: PB_OK, bytes: rows.json.jsonBytes, rows: rows.rows.count)
        } catch let refusal as QueryRefusal {
            return .failure(refusal.status, refusal.message)
        } catch {
            logger.error("scoped query failed: \(error)")
            return .failure(PB_INTERNAL_ERROR, "the query failed")
        }
    }

    // MARK: Layout

    /// Reads what the declared tables look like and builds each plugin's stand-in and reach.
    static func layout(
        for declarations: [PluginTables], on connection: SQLiteConnection, previous: SQLiteLayout
    ) throws -> (SQLiteLayout, [String: String]) {
        var problems: [String: String] = [:]
        var tables: [String: SQLiteLayout.Table] = [:]
        var plugins: [String: SQLiteLayout.Plugin] = [:]
        for declaration in declarations {
            var declared: [String: SQLiteLayout.Table] = [:]
            do {
                for table in declaration.tables {
                    let layout = try describe(table, on: connection)
                    if let other = tables[table.name], other != layout {
                        throw QueryRefusal("table '\(table.name)' is declared by another plugin with a different owner column")
                    }
                    declared[table.name] = layout
                }
            } catch let problem as QueryRefusal {
                problems[declaration.plugin] = problem.message
                continue
            }
            for (name, table) in declared { tables[name] = table }
            let seen = Mutex(Set<String>())
            connection.setAuthorizer { request in
                if request.action == SQLITE_READ, request.database == "main", let table = request.first { seen.withLock { _ = $0.insert(table) } }
                return true
            }
            for name in declared.keys { _ = try connection.prepare(Array("SELECT * FROM main.\(SQLiteLayout.quote(name))".utf8)) }
            connection.setAuthorizer(nil)
            let reach = seen.withLock { $0 }
            let reused = previous.plugins[declaration.plugin].flatMap { plugin in plugin.tables == declared ? plugin.standIn : nil }
            plugins[declaration.plugin] = SQLiteLayout.Plugin(
                tables: declared, reach: reach, standIn: try reused ?? SQLiteStandIn(tables: declared.values.sorted { $0.name < $1.name }))
        }
        let changed = tables != previous.tables
        return (SQLiteLayout(version: changed ? previous.version + 1 : previous.version, tables: tables, plugins: plugins), problems)
    }

    /// A declared table as the database has it; refuses what does not exist or lacks the owner column.
    static func describe(_ table: TableDeclaration, on connection: SQLiteConnection) throws -> SQLiteLayout.Table {
        let kind = try connection.rows("SELECT type FROM main.sqlite_master WHERE name = ?1 AND type IN ('table', 'view')", [.text(table.name)])
        guard !kind.isEmpty else {
            throw QueryRefusal("table '\(table.name)' (declared under data.tables) does not exist in the database; create it before loading the plugin")
        }
        let columns = try connection.rows("SELECT name, type, pk FROM pragma_table_info(?1, 'main')", [.text(table.name)]).compactMap { row -> SQLiteLayout.Column? in
            guard case .text(let name) = row[0] else { return nil }
            return SQLiteLayout.Column(name: name, type: row[1].text ?? "", primaryKey: (row[2].integer ?? 0) > 0)
        }
        if let owner = table.ownerColumn, !columns.contains(where: { $0.name == owner }) {
            throw QueryRefusal("table '\(table.name)' has no column '\(owner)' (its declared owner_column)")
        }
        var uniqueKeys: [[String]] = []
        let primaryKey = columns.filter(\.primaryKey).map(\.name)
        if !primaryKey.isEmpty { uniqueKeys.append(primaryKey) }
        for index in try connection.rows("SELECT name FROM pragma_index_list(?1, 'main') WHERE \"unique\" = 1 AND origin <> 'pk'", [.text(table.name)]) {
            guard case .text(let indexName) = index[0] else { continue }
            let indexColumns = try connection.rows("SELECT name FROM pragma_index_info(?1, 'main') ORDER BY seqno", [.text(indexName)]).compactMap(\.first?.text)
            if !indexColumns.isEmpty { uniqueKeys.append(indexColumns) }
        }
        return SQLiteLayout.Table(
            name: table.name, columns: columns, ownerColumn: table.shared ? nil : table.ownerColumn, uniqueKeys: uniqueKeys)
    }
}

extension QueryRefusal: CustomStringConvertible {
    var description: String { message }
}
