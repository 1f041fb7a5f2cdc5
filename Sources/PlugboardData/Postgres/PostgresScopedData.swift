import CPlugboard
import Foundation
import Logging
import PlugboardJSON
import PlugboardContracts
import PostgresNIO
import Synchronization

/// Per-owner scoped queries on PostgreSQL: row-level security does the filtering.
///
/// Each call runs, on a pooled connection of the restricted query login, as one transaction:
/// `BEGIN [READ ONLY]`; one statement setting the owner, the statement timeout and the plugin's
/// role transaction-locally (all as parameters); the plugin's statement (reads with the row cap
/// written into them, so it stops the server too); a check of what ran; `ROLLBACK` for read tools.
/// The extended protocol compiles exactly one statement per call. The statements around the
/// plugin's are prepared once per connection (`ScopeStatements`), and so are the reads a plugin
/// repeats (`PreparedReads`): planning is most of what a short read costs the server.
public final class PostgresScopedData: DataService, DataReadiness {
    private let queries: PostgresPool
    private let owner: PostgresPool
    private let superuser: PostgresPool?
    private let scoping: PostgresScoping
    private let scopeStatements = ScopeStatements()
    let reads = PreparedReads()
    /// The declarations last prepared, and the plugins among them that may query.
    private let prepared = Mutex<(declarations: [PluginTables], servable: Set<String>)?>(nil)
    /// Why the last preparation could not set scoping up for some plugin (`DataReadiness`).
    private let setUpFailure = Mutex<String?>(nil)
    private let logger: Logger

    /// - Parameters:
    ///   - query: the restricted login plugin queries run as.
    ///   - owner: the owner of the plugins' tables (CREATEROLE), which sets up roles and policies.
    ///   - superuser: a superuser login for the hardening only a superuser can do; nil when a DBA
    ///     runs that SQL (the host prints it and refuses to serve queries until it has run).
    ///   - connections: the most connections plugin queries use at once (PostgresNIO's default when nil).
    public init(query: PostgresLocation, owner: PostgresLocation, superuser: PostgresLocation?, connections: Int? = nil, logger: Logger) throws {
        self.queries = try PostgresPool(query, maximumConnections: connections, logger: logger)
        self.owner = try PostgresPool(owner, logger: logger)
        self.superuser = try superuser.map { try PostgresPool($0, logger: logger) }
        self.scoping = PostgresScoping(queryRole: query.user, database: query.database)
        self.logger = logger
    }

    // MARK: Preparing

    public func prepare(_ declarations: [PluginTables]) async -> [String: String] {
        if let done = prepared.withLock({ $0 }), done.declarations == declarations, done.servable.count == declarations.count { return [:] }
        do {
            try await owner.probe(logger: logger)
            try await queries.probe(logger: logger)
            var problems = try await describeTables(declarations)
            try await setUp(declarations.filter { problems[$0.plugin] == nil })
            let failed = try await verify(declarations.filter { problems[$0.plugin] == nil })
            problems.merge(failed, uniquingKeysWith: { first, _ in first })
            let servable = Set(declarations.map(\.plugin).filter { problems[$0] == nil })
            prepared.withLock { $0 = (declarations, servable) }
            setUpFailure.withLock { $0 = failed.isEmpty ? nil : "PostgreSQL scoping is not set up for " + failed.keys.sorted().joined(separator: ", ") }
            return problems
        } catch {
            logger.error("cannot prepare PostgreSQL scoping: \(String(reflecting: error))")
            let text = "cannot prepare PostgreSQL scoping: \(PostgresErrorText.describe(error))"
            setUpFailure.withLock { $0 = text }
            return Dictionary(declarations.map { ($0.plugin, text) }, uniquingKeysWith: { first, _ in first })
        }
    }

    public var unready: String? {
        setUpFailure.withLock { $0 }
    }

    /// Refuses plugins whose declared tables or owner columns do not exist.
    private func describeTables(_ declarations: [PluginTables]) async throws -> [String: String] {
        var problems: [String: String] = [:]
        let client = owner.client
        for declaration in declarations {
            for table in declaration.tables {
                let column = table.ownerColumn ?? ""
                let rows = try await client.query(
                    """
                    SELECT c.relname, a.attname FROM pg_class c
                    LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = \(column) AND NOT a.attisdropped
                    WHERE c.relnamespace = 'public'::regnamespace AND c.relname = \(table.name) AND c.relkind IN ('r', 'v', 'p')
                    """, logger: logger)
                var found = false
                var hasOwner = table.ownerColumn == nil
                for try await (_, attribute) in rows.decode((String, String?).self) {
                    found = true
                    if attribute != nil { hasOwner = true }
                }
                if !found {
                    problems[declaration.plugin] = "table '\(table.name)' (declared under data.tables) does not exist in the database; create it before loading the plugin"
                } else if !hasOwner {
                    problems[declaration.plugin] = "table '\(table.name)' has no column '\(column)' (its declared owner_column)"
                }
            }
        }
        return problems
    }

    /// Runs the owner part of the setup, then the superuser part when a superuser login is configured.
    /// Each part is one transaction, so calls never see half of it, and is run again when another
    /// instance setting up the same database at the same moment got in its way.
    private func setUp(_ declarations: [PluginTables]) async throws {
        guard !declarations.isEmpty else { return }
        try await retryingConcurrentUpdates {
            try await owner.client.withTransaction(logger: logger) { connection in
                // Roles first: the query login (if the DBA has not made it) and one per plugin.
                let roles = [(scoping.queryRole, "LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS")]
                    + declarations.map { (PostgresScoping.role(for: $0.plugin), "NOLOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS") }
                for (role, attributes) in roles {
                    let existing = try await connection.query("SELECT 1 FROM pg_roles WHERE rolname = \(role)", logger: logger)
                    var exists = false
                    for try await _ in existing { exists = true }
                    if !exists {
                        try await connection.query(PostgresQuery(unsafeSQL: "CREATE ROLE \(PostgresScoping.quote(role)) \(attributes)"), logger: logger)
                    }
                }
                var sequences: [String: [String]] = [:]
                let rows = try await connection.query(PostgresQuery(unsafeSQL: PostgresScoping.serialSequencesQuery), logger: logger)
                for try await (table, sequence) in rows.decode((String, String).self) { sequences[table, default: []].append(sequence) }
                for statement in scoping.ownerStatements(for: declarations, sequences: sequences) {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
            }
        }
        guard let superuser else { return }
        try await retryingConcurrentUpdates {
            try await superuser.client.withTransaction(logger: logger) { connection in
                for statement in scoping.superuserStatements(owner: owner.location.user) {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
            }
        }
    }

    /// Runs `body` again, up to `setUpAttempts` times in all, after a short random wait while it
    /// fails because another transaction changed the same catalog rows: several instances
    /// starting together on one database all GRANT on the same tables and create the same roles.
    private func retryingConcurrentUpdates(_ body: () async throws -> Void) async throws {
        var attempt = 1
        while true {
            do {
                return try await body()
            } catch where attempt < Self.setUpAttempts && Self.isConcurrentCatalogUpdate(error) {
                logger.info("scoping set-up met a concurrent one, trying again (attempt \(attempt)): \(PostgresErrorText.describe(error))")
                try await Task.sleep(for: .milliseconds(Int.random(in: 10...50) << min(attempt, 5)))
                attempt += 1
            }
        }
    }

    static let setUpAttempts = 10

    /// True when `error` says another transaction got to the same rows first.
    static func isConcurrentCatalogUpdate(_ error: any Error) -> Bool {
        var error = error
        if let transaction = error as? PostgresTransactionError {
            error = transaction.closureError ?? transaction.beginError ?? transaction.commitError ?? error
        }
        guard let error = error as? PSQLError, let state = error.serverInfo?[.sqlState] else { return false }
        switch state {
        // Serialization failure, deadlock, a lock not available.
        case "40001", "40P01", "55P03": return true
        // A role or catalog row another instance created between our check and our CREATE.
        case "23505", "42710": return true
        // "tuple concurrently updated" / "deleted": two GRANTs or REVOKEs on one object.
        case "XX000": return error.serverInfo?[.message]?.contains("concurrently") == true
        default: return false
        }
    }

    /// Checks the outcome; a problem names every failed check and the SQL that fixes it.
    private func verify(_ declarations: [PluginTables]) async throws -> [String: String] {
        guard !declarations.isEmpty else { return [:] }
        var failed: [String] = []
        let client = owner.client
        for (name, condition) in scoping.checks(for: declarations) {
            let rows = try await client.query(PostgresQuery(unsafeSQL: "SELECT \(condition)"), logger: logger)
            for try await ok in rows.decode(Bool.self) where !ok { failed.append(name) }
        }
        for declaration in declarations {
            let role = PostgresScoping.role(for: declaration.plugin)
            let rows = try await client.query(
                "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = \(role)) AND pg_has_role(\(scoping.queryRole), \(role), 'MEMBER')",
                logger: logger)
            for try await ok in rows.decode(Bool.self) where !ok {
                failed.append("the query login can switch to plugin '\(declaration.plugin)''s role \(role)")
            }
        }
        guard !failed.isEmpty else { return [:] }
        let problem = PostgresScopingProblem(
            failedChecks: failed, superuserSQL: scoping.superuserStatements(owner: owner.location.user))
        logger.error("\(problem)")
        return Dictionary(declarations.map { ($0.plugin, problem.description) }, uniquingKeysWith: { first, _ in first })
    }

    // MARK: Queries

    public func query(_ request: [UInt8], scope: QueryScope, owner: String) async -> QueryReply {
        let parsed: ScopedQueryRequest
        let statement: StatementGate.Statement
        do {
            let (query, admitted) = try ScopedQueryRequest.admit(request, writes: scope.writes)
            (parsed, statement) = (query, try PlanFences.apply(to: admitted))
        } catch {
            return .failure(error.status, error.message)
        }
        guard prepared.withLock({ $0?.servable.contains(scope.plugin) }) == true else {
            return .failure(PB_INVALID_ARGUMENTS, "query refused: plugin '\(scope.plugin)' declares no tables (add them under data.tables in its manifest)")
        }
        do {
            let rows = try await run(statement, parameters: parsed.parameters, scope: scope, owner: owner)
            return QueryReply(status: PB_OK, bytes: rows.json.jsonBytes, rows: rows.rows.count)
        } catch let refusal as QueryRefusal {
            return .failure(PB_TOOL_ERROR, refusal.message)
        } catch let error as PSQLError {
            return .failure(PB_TOOL_ERROR, Self.message(for: error, scope: scope, statement: statement))
        } catch {
            logger.error("scoped query failed: \(String(reflecting: error))")
            return .failure(PB_INTERNAL_ERROR, "the query failed")
        }
    }

    private func run(_ statement: StatementGate.Statement, parameters: [JSONValue], scope: QueryScope, owner: String) async throws -> QueryRows {
        let (bindings, types) = try Self.bindings(parameters)
        return try await queries.client.withConnection { connection in
            let statements = try await scopeStatements.prepared(on: connection)
            do {
                return try await transaction(
                    statement, bindings: bindings, types: types, scope: scope, owner: owner, on: connection, statements, prepared: true)
            } catch let retired as RetiredRead {
                logger.debug("prepared plugin read retired, running it unprepared: \(PostgresErrorText.describe(retired.underlying))")
                return try await transaction(
                    statement, bindings: bindings, types: types, scope: scope, owner: owner, on: connection, statements, prepared: false)
            }
        }
    }

    /// One call's transaction on `connection`.
    private func transaction(
        _ statement: StatementGate.Statement, bindings: PostgresBindings, types: [PostgresDataType], scope: QueryScope, owner: String,
        on connection: PostgresConnection, _ statements: ScopeStatements.Prepared, prepared: Bool
    ) async throws -> QueryRows {
        // The set-up goes out back to back with the statement: the driver runs them in order,
        // each as soon as the previous one is done, without waking this task in between. If
        // one fails, what follows fails too or runs with no privileges at all (as the query
        // login, outside the plugin's role).
        let setUp = statements.start(
            writes: scope.writes, owner: owner, timeoutMilliseconds: max(1, Int(scope.timeout.timeInterval * 1000)),
            role: PostgresScoping.role(for: scope.plugin))
        do {
            let result =
                if statement.isRead {
                    try await read(
                        statement, bindings: bindings, types: types, scope: scope, on: connection, statements, prepared: prepared)
                } else {
                    try await write(statement, bindings: bindings, scope: scope, on: connection, statements)
                }
            for step in setUp { _ = try await step.get() }
            return result
        } catch {
            // The first failure is the cause; the statements after it only report the aborted transaction.
            do {
                for step in setUp { _ = try await step.get() }
            } catch {
                scopeStatements.forget(connection)
                throw error
            }
            throw error
        }
    }

    /// A read, capped: the cap is part of the statement, so the server stops at it too. Reads a
    /// plugin repeats run as prepared statements (see `PreparedReads`).
    private func read(
        _ statement: StatementGate.Statement, bindings: PostgresBindings, types: [PostgresDataType], scope: QueryScope,
        on connection: PostgresConnection, _ statements: ScopeStatements.Prepared, prepared: Bool
    ) async throws -> QueryRows {
        // A read is rolled back whatever happens. The driver runs the ROLLBACK before anything the
        // connection's next user sends, and only a lost connection makes it fail, so the call
        // does not wait for it.
        defer {
            statements.rollback.execute().whenFailure { [logger] error in
                logger.warning("ROLLBACK after a plugin read failed: \(PostgresErrorText.describe(error))")
            }
        }
        let sql = Self.capped(statement.body, rows: scope.maxRows + 1, budget: scope.maxResultBytes)
        let key = PreparedReads.Key(plugin: scope.plugin, sql: sql, types: types)
        var rows: [PostgresRow] = []
        // Rows are counted as they arrive: past the budget the rest is not read (the database
        // refuses a single row over it, see `capped`).
        var size = 0
        func add(_ row: PostgresRow) -> Bool {
            size += Self.size(of: row)
            guard size <= scope.maxResultBytes else { return false }
            rows.append(row)
            return true
        }
        if prepared, let name = reads.name(for: key) {
            do {
                let stream = try await PluginRead.$text.withValue(.init(name: name, sql: sql, types: types)) {
                    try await connection.execute(PluginRead(bindings: bindings), logger: logger)
                }
                for try await row in stream where !add(row) { break }
                statements.reads.insert(name)
            } catch {
                // Never run here before, it may have failed to prepare (and would fail here from
                // now on); a plan PostgreSQL no longer accepts (0A000: its table changed) or a
                // statement it lost (26000) is no use anywhere. Otherwise the statement ran and
                // failed on its own account. A call that used up its time limit is not run again.
                let state = (error as? PSQLError)?.serverInfo?[.sqlState]
                guard !statements.reads.contains(name) || state == "0A000" || state == "26000" else { throw error }
                reads.retire(key, name: name)
                throw state == "57014" ? error : RetiredRead(underlying: error)
            }
        } else {
            let stream: PostgresRowSequence = try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
            for try await row in stream where !add(row) { break }
            if size <= scope.maxResultBytes, reads.succeeded(key) {
                logger.notice("\(reads.capacity) distinct plugin reads are prepared statements; further ones run unprepared (slower)")
            }
        }
        guard size <= scope.maxResultBytes else { throw ResultBudget.tooLarge(scope.maxResultBytes) }
        return try Self.collect(rows, limit: scope.maxRows)
    }

    /// A row's size as `ResultBudget` counts it, from the bytes PostgreSQL sent.
    static func size(of row: PostgresRow) -> Int {
        var size = 2
        for cell in row {
            guard let bytes = cell.bytes else {
                size += ResultBudget.null
                continue
            }
            switch cell.dataType {
            case .int2, .int4, .int8, .oid, .float4, .float8, .bool: size += ResultBudget.number
            default: size += ResultBudget.value(bytes: bytes.readableBytes)
            }
        }
        return size
    }

    /// A statement of a tool that declares writes, committed only when it did what a plugin
    /// statement may do.
    private func write(
        _ statement: StatementGate.Statement, bindings: PostgresBindings, scope: QueryScope, on connection: PostgresConnection,
        _ statements: ScopeStatements.Prepared
    ) async throws -> QueryRows {
        // Only a write can leave sequence values in the session: nextval() fails in a read-only
        // transaction. Like a read's ROLLBACK, this runs before anything the connection's next
        // user sends, so the call does not wait for it.
        defer {
            statements.discardSequences.execute().whenFailure { [logger] error in
                logger.warning("DISCARD SEQUENCES after a plugin write failed: \(PostgresErrorText.describe(error))")
            }
        }
        do {
            let outcome = try await connection.query(PostgresQuery(unsafeSQL: String(statement.body), binds: bindings), logger: logger).get()
            guard ["INSERT", "UPDATE", "DELETE", "SELECT", "MERGE"].contains(outcome.metadata.command) else {
                throw QueryRefusal("only SELECT, INSERT, UPDATE and DELETE statements are allowed")
            }
            // Already in memory: the budget only keeps the answer from growing it further.
            guard outcome.rows.prefix(scope.maxRows).reduce(0, { $0 + Self.size(of: $1) }) <= scope.maxResultBytes else {
                throw ResultBudget.tooLarge(scope.maxResultBytes)
            }
            var result = try Self.collect(outcome.rows, limit: scope.maxRows)
            result.rowsAffected = outcome.metadata.rows
            _ = try await (scope.writes ? statements.commit : statements.rollback).execute().get()
            return result
        } catch {
            _ = try? await statements.rollback.execute().get()
            throw error
        }
    }

    /// A read with a row limit of its own: the plugin's statement becomes a subquery, and the
    /// LIMIT written last binds to the outermost query whatever the statement says (text that
    /// tried to swallow it, an open quote or comment, makes the statement invalid instead).
    /// The newline ends a trailing `--` comment (the gate took off the terminating `;`).
    /// The rows that pass the cap are checked once more, in the database: a row whose values take
    /// more than the result budget fails there (with a marker `message(for:)` recognises) rather
    /// than being sent, since the driver holds a whole row in memory before the host sees any of
    /// it. Only the rows within the cap are measured (the cap's subquery is never flattened into
    /// the plugin's statement, having a LIMIT); a value stored compressed counts at its
    /// compressed size there, and in full once it arrives.
    static func capped(_ sql: Substring, rows: Int, budget: Int) -> String {
        cappedPrefix + sql + "\n) AS pb_rows LIMIT \(rows)) AS pb_capped WHERE (CASE WHEN pg_catalog.pg_column_size(pb_capped.*) > \(budget) "
            + "THEN (\(tooLargeMarker) || pg_catalog.pg_column_size(pb_capped.*))::int END) IS NULL"
    }

    /// What `capped` writes before the plugin's statement.
    static let cappedPrefix = "SELECT * FROM (SELECT * FROM (\n"
    /// The text of the error a row over the budget raises in `capped`.
    static let tooLargeMarker = "'pb_result_too_large '"

    /// The parameters as PostgresNIO binds them, and the types it declares for them (the key of a
    /// prepared read; null leaves the type to PostgreSQL).
    static func bindings(_ parameters: [JSONValue]) throws -> (values: PostgresBindings, types: [PostgresDataType]) {
        var bindings = PostgresBindings(capacity: parameters.count)
        var types: [PostgresDataType] = []
        types.reserveCapacity(parameters.count)
        for parameter in parameters {
            switch parameter {
            case .null: bindings.appendNull(); types.append(.null)
            case .bool(let bool): bindings.append(bool); types.append(.bool)
            case .int(let int): bindings.append(int); types.append(.int8)
            case .double(let double): bindings.append(double); types.append(.float8)
            case .string(let string): bindings.append(string); types.append(.text)
            case .array, .object: throw QueryRefusal("query parameters must be strings, numbers, booleans or null")
            }
        }
        return (bindings, types)
    }

    static func collect(_ rows: [PostgresRow], limit: Int) throws -> QueryRows {
        var values: [[JSONValue]] = []
        var columns: [String] = []
        values.reserveCapacity(min(rows.count, limit))
        for row in rows.prefix(limit) {
            var rowValues: [JSONValue] = []
            rowValues.reserveCapacity(row.count)
            for cell in row {
                rowValues.append(try json(cell))
            }
            if columns.isEmpty { columns = row.map(\.columnName) }
            values.append(rowValues)
        }
        return QueryRows(columns: columns, rows: values, truncated: rows.count > limit)
    }

    /// A cell as JSON: numbers, booleans and text as such, timestamps as ISO 8601, dates as
    /// YYYY-MM-DD. Results arrive in binary, so a type not listed here is refused with the cast
    /// that fixes it rather than guessed at.
    static func json(_ cell: PostgresCell) throws -> JSONValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8, .oid: return .int(try cell.decode(Int64.self))
        case .float4, .float8: return .double(try cell.decode(Double.self))
        case .numeric:
            // NUMERIC is exact; JSON numbers are doubles to most readers, so that is what it becomes.
            let text = try cell.decode(Decimal.self).description
            return Double(text).map(JSONValue.double) ?? .string(text)
        case .bool: return .bool(try cell.decode(Bool.self))
        case .timestamp, .timestamptz:
            return .string(try cell.decode(Date.self).formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted)))
        case .date:
            return .string(try cell.decode(Date.self).formatted(.iso8601.year().month().day()))
        case .json, .jsonb:
            let text = try cell.decode(String.self)
            return (try? JSONValue(parsing: text)) ?? .string(text)
        case .uuid:
            return .string(try cell.decode(UUID.self).uuidString.lowercased())
        case .text, .varchar, .bpchar, .name:
            return .string(try cell.decode(String.self))
        default:
            throw QueryRefusal(
                "column '\(cell.columnName)' has a type (\(cell.dataType)) the host does not convert to JSON; cast it in the query, e.g. \(cell.columnName)::text")
        }
    }

    /// What a plugin may be told: SQLSTATE classes with fixed text, and PostgreSQL's own message
    /// only where it quotes nothing but the plugin's statement (cut to the plugin's own text where
    /// it quotes the statement sent). Never DETAIL, HINT or constraint names.
    static func message(for error: PSQLError, scope: QueryScope, statement: StatementGate.Statement) -> String {
        let timeout = scope.timeout
        let state = error.serverInfo?[.sqlState] ?? ""
        let server = error.serverInfo?[.message] ?? ""
        /// PostgreSQL's message, unless it names the host's own objects (the cap's alias, plugin
        /// roles, prepared reads), which only a failure the statement did not cause can do.
        var own: String {
            // Positions count characters of the text sent: mapped back to the plugin's own text.
            let offset = statement.isRead ? cappedPrefix.unicodeScalars.count : 0
            let position = error.serverInfo?[.position].flatMap(Int.init).map { sent in
                sent - 1 - offset < 0 ? sent : statement.originalPosition(of: sent - 1 - offset) + 1 + offset
            }
            let message = PostgresErrorText.plugin(server, position: position.map(String.init), statement: statement.original, offset: offset)
            let foreign = ["pb_rows", "pb_capped", "pb_fence", "pb_plugin_", "pb_read_", "pb_result_too_large"].contains {
                message.contains($0) && !statement.original.contains($0)
            }
            return foreign ? "the query failed (SQLSTATE \(state))" : message
        }
        if state == "22P02", server.contains("pb_result_too_large"), !statement.original.contains("pb_result_too_large") {
            return ResultBudget.tooLarge(scope.maxResultBytes).message
        }
        switch state {
        case "57014": return "the query took longer than its \(Int(timeout.timeInterval * 1000)) ms time limit"
        case "25006": return "this tool is read-only: the statement would write"
        case "42501":
            return server.contains("row-level security") ? "the row would belong to another owner" : "query refused: it uses something this plugin may not use"
        case "23505": return "duplicate key"
        case "42601", "42P01", "42703", "42883", "42804", "42725", "42P18", "3F000": return own
        default:
            if state.hasPrefix("23") { return "the write breaks a constraint of the table" }
            if state.hasPrefix("22") { return own }
            if state == "34000" || state == "26000" { return "query refused: it uses something this plugin may not use" }
            return state.isEmpty ? "the query failed" : "the query failed (SQLSTATE \(state))"
        }
    }
}
