import Foundation
import PlugboardJSON
import PlugboardMCP
import PlugboardPlugins
import Synchronization
import Testing

@testable import PlugboardData

/// The adversarial suite: a hostile plugin passes attacker-chosen SQL to the host's scoped
/// query, as a prompt-injected model would. Not one row of another owner may come back.
enum ScopingAttacks {
    enum Expectation: Sendable, CustomStringConvertible {
        /// The query is refused or fails; the message must contain this text.
        case refused(String)
        /// The query runs and returns exactly these rows.
        case rows([[JSONValue]])
        /// The query runs; this many rows come back (all the caller's).
        case count(Int)

        var description: String {
            switch self {
            case .refused(let text): "refused(\(text))"
            case .rows(let rows): "rows(\(rows.count))"
            case .count(let count): "count(\(count))"
            }
        }
    }

    struct Attack: Sendable, CustomStringConvertible {
        let name: String
        let sql: String
        var parameters: [JSONValue] = []
        var writes = false
        let expect: Expectation
        /// Where PostgreSQL answers differently (its own error, or a name that is legal there).
        var postgres: Expectation? = nil
        var description: String { name }
    }

    /// 800 bytes whose compiled form doubles with every level: `c(n)` adds `c(n-1)` to itself.
    static func expressionBomb(levels: Int) -> String {
        let ctes = ["c0 AS (SELECT 1 AS x)"] + (1...levels).map { "c\($0) AS (SELECT x + x AS x FROM c\($0 - 1))" }
        return "WITH \(ctes.joined(separator: ", ")) SELECT x FROM c\(levels)"
    }

    /// Reads whose result is over 100,000 characters in one value, and in 50 rows.
    static let overToolLimit = [
        "SELECT owner_id, substr(printf('%0150000d', 0), 1, 150000) AS wide FROM projects",
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) SELECT substr(printf('%03000d', i), 1, 3000) FROM n",
    ]

    /// Values only bob's rows hold: none may appear in an answer to alice.
    static let bobMarkers = ["BOB-SECRET-PROJECT", "12345", "Bob Ltd", "bob-secret", "\"bob\""]

    static let reads: [Attack] = [
        Attack(name: "baseline", sql: "SELECT owner_id, name FROM projects ORDER BY id", expect: .rows([["alice", "alice-p1"], ["alice", "alice-p2"]])),
        Attack(name: "WHERE 1=1", sql: "SELECT owner_id, name FROM projects WHERE 1=1", expect: .count(2)),
        Attack(name: "OR owner_id <> $1", sql: "SELECT owner_id, name FROM projects WHERE owner_id = $1 OR owner_id <> $1", parameters: ["alice"], expect: .count(2)),
        Attack(name: "schema-qualified main", sql: "SELECT owner_id, name FROM main.projects", expect: .refused("no such table"), postgres: .refused("does not exist")),
        Attack(
            name: "quoted schema with comment", sql: "SELECT owner_id, name FROM \"main\" /* x */ . \"projects\"", expect: .refused("no such table"),
            postgres: .refused("does not exist")),
        Attack(name: "schema-qualified temp", sql: "SELECT owner_id, name FROM temp.projects", expect: .count(2), postgres: .refused("does not exist")),
        Attack(name: "schema-qualified public", sql: "SELECT owner_id, name FROM public.projects", expect: .refused(""), postgres: .count(2)),
        Attack(name: "UNION with another owner", sql: "SELECT owner_id, name FROM projects UNION SELECT owner_id, name FROM main.projects WHERE owner_id = 'bob'", expect: .refused("")),
        Attack(name: "UNION filtered on bob", sql: "SELECT owner_id, name FROM projects UNION SELECT owner_id, name FROM projects WHERE owner_id = 'bob'", expect: .count(2)),
        Attack(name: "UNION undeclared table", sql: "SELECT owner_id, name FROM projects UNION ALL SELECT owner_id, secret FROM secrets", expect: .refused("")),
        Attack(name: "CTE shadowing the table", sql: "WITH projects AS (SELECT * FROM main.projects) SELECT owner_id, name FROM projects", expect: .refused("")),
        Attack(name: "CTE over the declared name", sql: "WITH p AS (SELECT * FROM projects) SELECT owner_id, name FROM p", expect: .count(2)),
        Attack(name: "recursive CTE", sql: "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT p.name FROM r, projects p", expect: .count(6)),
        Attack(name: "scalar subquery", sql: "SELECT (SELECT count(*) FROM projects)", expect: .rows([[2]])),
        Attack(name: "scalar subquery over the base table", sql: "SELECT (SELECT count(*) FROM main.projects)", expect: .refused("")),
        Attack(name: "EXISTS probe on bob", sql: "SELECT count(*) FROM customers WHERE EXISTS (SELECT 1 FROM projects WHERE owner_id = 'bob')", expect: .rows([[0]])),
        Attack(name: "shared table", sql: "SELECT code FROM currencies ORDER BY code", expect: .rows([["EUR"], ["USD"]])),
        Attack(name: "catalog sqlite_master", sql: "SELECT * FROM sqlite_master", expect: .refused("")),
        Attack(name: "catalog sqlite_schema", sql: "SELECT name FROM sqlite_schema", expect: .refused("")),
        Attack(name: "catalog sqlite_temp_master", sql: "SELECT sql FROM sqlite_temp_master", expect: .refused("")),
        Attack(name: "catalog pg_catalog", sql: "SELECT relname FROM pg_catalog.pg_class", expect: .refused("")),
        Attack(name: "pragma function", sql: "SELECT * FROM pragma_table_info('projects')", expect: .refused("")),
        Attack(name: "PRAGMA statement", sql: "PRAGMA table_info(projects)", expect: .refused("not PRAGMA")),
        Attack(name: "dbstat", sql: "SELECT name FROM dbstat", expect: .refused("")),
        Attack(name: "undeclared table", sql: "SELECT * FROM secrets", expect: .refused("no such table"), postgres: .refused("may not use")),
        Attack(name: "view over an owned table", sql: "SELECT * FROM project_names", expect: .refused("no such table"), postgres: .refused("may not use")),
        Attack(name: "ATTACH DATABASE", sql: "ATTACH DATABASE '/tmp/x.db' AS x", expect: .refused("not ATTACH")),
        Attack(name: "chained statements", sql: "SELECT 1; SELECT * FROM secrets", expect: .refused("one statement per call")),
        Attack(name: "chained harmless statements", sql: "SELECT owner_id FROM projects; SELECT 2", expect: .refused("one statement per call")),
        Attack(name: "trailing semicolon and comment", sql: "SELECT name FROM projects ORDER BY id; -- done", expect: .rows([["alice-p1"], ["alice-p2"]])),
        Attack(name: "semicolon inside a dollar quote", sql: "SELECT $q$a;b$q$ AS x", expect: .refused(""), postgres: .rows([["a;b"]])),
        Attack(name: "statement after a dollar quote", sql: "SELECT $$x$$; SELECT * FROM secrets", expect: .refused("one statement per call")),
        Attack(name: "NUL byte", sql: "SELECT 1\u{0}; DELETE FROM projects", expect: .refused("NUL")),
        Attack(name: "VACUUM INTO", sql: "VACUUM INTO '/tmp/plugboard-leak.db'", expect: .refused("not VACUUM")),
        Attack(name: "COPY", sql: "COPY projects TO STDOUT", expect: .refused("not COPY")),
        Attack(name: "SET ROLE", sql: "SET ROLE postgres", expect: .refused("not SET")),
        Attack(name: "RESET ROLE", sql: "RESET ROLE", expect: .refused("not RESET")),
        Attack(name: "set_config in WHERE", sql: "SELECT owner_id, name FROM projects WHERE set_config('app.owner', 'bob', true) IS NOT NULL", expect: .refused("")),
        Attack(name: "the host's owner function", sql: "SELECT pb_owner()", expect: .refused("")),
        Attack(name: "state of earlier statements", sql: "SELECT last_insert_rowid()", expect: .refused("")),
        Attack(name: "EXPLAIN", sql: "EXPLAIN SELECT * FROM projects", expect: .refused("")),
        Attack(name: "INSERT in a read-only tool", sql: "INSERT INTO projects (name) VALUES ('x')", expect: .refused("read-only")),
        Attack(name: "data-modifying RETURNING in a read-only tool", sql: "DELETE FROM projects RETURNING *", expect: .refused("read-only")),
        Attack(name: "parameters by number", sql: "SELECT $2, $1", parameters: ["A", "B"], expect: .rows([["B", "A"]])),
        Attack(name: "anonymous parameter", sql: "SELECT ?", parameters: ["A"], expect: .refused("$1"), postgres: .refused("syntax")),
        Attack(name: "parameter past the values", sql: "SELECT $1, $3", parameters: ["A", "B"], expect: .refused("$3"), postgres: .refused("")),
    ]

    static let writes: [Attack] = [
        Attack(name: "give a row to another owner", sql: "UPDATE projects SET owner_id = 'bob' WHERE id = 1", writes: true, expect: .refused("owner column"), postgres: .refused("another owner")),
        Attack(name: "update another owner's row by id", sql: "UPDATE projects SET name = 'pwned' WHERE id = 3", writes: true, expect: .count(0)),
        Attack(name: "insert a row for another owner", sql: "INSERT INTO projects (owner_id, name) VALUES ('bob', 'planted')", writes: true, expect: .refused("another owner")),
        Attack(name: "insert own row", sql: "INSERT INTO projects (name) VALUES ('alice-new')", writes: true, expect: .count(0)),
        Attack(name: "INSERT OR REPLACE over another owner's key", sql: "INSERT OR REPLACE INTO projects (id, name) VALUES (3, 'replaced')", writes: true, expect: .refused("conflict")),
        Attack(name: "REPLACE INTO", sql: "REPLACE INTO projects (id, name) VALUES (4, 'replaced')", writes: true, expect: .refused("REPLACE")),
        Attack(name: "insert on another owner's key", sql: "INSERT INTO projects (id, name) VALUES (3, 'x')", writes: true, expect: .refused("duplicate key")),
        Attack(name: "delete another owner's rows", sql: "DELETE FROM projects WHERE owner_id = 'bob'", writes: true, expect: .count(0)),
        Attack(name: "delete by another owner's ids", sql: "DELETE FROM projects WHERE id IN (3, 4)", writes: true, expect: .count(0)),
        Attack(name: "write a shared table", sql: "UPDATE currencies SET name = 'x'", writes: true, expect: .refused("")),
        Attack(name: "write an undeclared table", sql: "DELETE FROM secrets", writes: true, expect: .refused("")),
        Attack(name: "write through the schema", sql: "DELETE FROM main.projects", writes: true, expect: .refused("")),
        Attack(name: "DROP the scoping view", sql: "DROP VIEW projects", writes: true, expect: .refused("not DROP")),
        Attack(name: "CREATE TEMP TABLE AS", sql: "CREATE TEMP TABLE leak AS SELECT * FROM projects", writes: true, expect: .refused("not CREATE")),
    ]

    /// Runs one attack as `owner` and checks it, returning what came back.
    /// An endless recursive query through `capped_sql` stops at its 300 ms limit; returns alice's context.
    static func expectRunawayStopped(on catalog: any MCPCatalog) async throws -> MCPCallContext {
        let context = MCPCallContext(caller: MCPCaller(owner: "alice"), requestID: .int(1), progress: nil, cancellation: CancellationSignal())
        let started = ContinuousClock.now
        let runaway = try await catalog.callTool(
            "capped_sql", arguments: ["sql": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"], context: context)
        #expect(ContinuousClock.now - started < .seconds(2))
        #expect(runaway["content"]?.arrayValue?.first?["text"]?.stringValue?.contains("300 ms time limit") == true, "\(runaway.jsonString)")
        return context
    }

    static func run(_ attack: Attack, on catalog: any MCPCatalog, owner: String = "alice", postgres: Bool = false) async throws -> JSONValue {
        let tool = attack.writes ? "write_sql" : "read_sql"
        let context = MCPCallContext(caller: MCPCaller(owner: owner), requestID: .int(1), progress: nil, cancellation: CancellationSignal())
        let result = try await catalog.callTool(tool, arguments: ["sql": .string(attack.sql), "params": .array(attack.parameters)], context: context)
        let text = result.jsonString
        for marker in bobMarkers where owner == "alice" {
            #expect(!text.contains(marker), "\(attack.name): leaked \(marker): \(text)")
        }
        let message = result["content"]?.arrayValue?.first?["text"]?.stringValue ?? ""
        switch (postgres ? attack.postgres : nil) ?? attack.expect {
        case .refused(let reason):
            #expect(result["isError"] == true, "\(attack.name): expected a refusal, got \(text)")
            #expect(reason.isEmpty || message.contains(reason), "\(attack.name): expected '\(reason)' in '\(message)'")
            #expect(!message.contains("pb_") || attack.sql.contains("pb_"), "\(attack.name): an internal name leaked: \(message)")
        case .rows(let rows):
            #expect(result["isError"] == nil, "\(attack.name): \(message)")
            #expect(result["structuredContent"]?["rows"] == .array(rows.map(JSONValue.array)), "\(attack.name): \(text)")
        case .count(let count):
            #expect(result["isError"] == nil, "\(attack.name): \(message)")
            #expect(result["structuredContent"]?["rows"]?.arrayValue?.count == count, "\(attack.name): \(text)")
            for row in result["structuredContent"]?["rows"]?.arrayValue ?? [] where row.arrayValue?.first?.stringValue != nil {
                let owners = (row.arrayValue ?? []).compactMap(\.stringValue).filter { $0 == "alice" || $0 == "bob" }
                #expect(owners.allSatisfy { $0 == owner }, "\(attack.name): a row of another owner: \(row.jsonString)")
            }
        }
        return result
    }

    static let manifest = """
        plugin: hostile
        library: libfixture_sql.so
        data:
          tables:
            projects: { owner_column: owner_id }
            customers: { owner_column: owner_id }
            currencies: { shared: true }
        tools:
          - name: read_sql
            handler: sql.run
            description: Runs a read-only query chosen by the caller.
            input_schema: { type: object, properties: { sql: { type: string }, params: { type: array } }, required: [sql] }
            limits: { max_rows: 50, timeout_ms: 2000 }
          - name: write_sql
            handler: sql.run
            description: Runs a write chosen by the caller.
            writes: true
            input_schema: { type: object, properties: { sql: { type: string }, params: { type: array } }, required: [sql] }
            limits: { max_result_chars: 100000000 }
          - name: capped_sql
            handler: sql.run
            description: Runs a query with a small row cap and a short time limit.
            input_schema: { type: object, properties: { sql: { type: string }, params: { type: array } }, required: [sql] }
            limits: { max_rows: 3, timeout_ms: 300 }
        """
}

@Suite("Per-owner scoping on SQLite", .serialized)
final class SQLiteScopingTests {
    let plugins = PluginFolder()
    let database: String
    let host: PluginHost

    static let schema = """
        CREATE TABLE projects (id INTEGER PRIMARY KEY, owner_id TEXT NOT NULL, name TEXT NOT NULL, customer_id INT);
        CREATE TABLE customers (id INTEGER PRIMARY KEY, owner_id TEXT NOT NULL, name TEXT NOT NULL);
        CREATE TABLE currencies (code TEXT PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE secrets (id INTEGER PRIMARY KEY, owner_id TEXT NOT NULL, secret TEXT NOT NULL);
        CREATE VIEW project_names AS SELECT owner_id, name FROM projects;
        INSERT INTO customers (owner_id, name) VALUES ('alice', 'Alice Corp'), ('bob', 'Bob Ltd');
        INSERT INTO projects (owner_id, name, customer_id) VALUES
          ('alice', 'alice-p1', 1), ('alice', 'alice-p2', 1), ('bob', 'BOB-SECRET-PROJECT', 2), ('bob', '12345', 2);
        INSERT INTO currencies VALUES ('EUR', 'Euro'), ('USD', 'US dollar');
        INSERT INTO secrets (owner_id, secret) VALUES ('alice', 'alice-secret'), ('bob', 'bob-secret');
        """

    init() async throws {
        database = "\(plugins.root)/data.db"
        try Self.schema.write(toFile: "\(plugins.root)/schema.sql", atomically: true, encoding: .utf8)
        let store = try SQLiteStore(path: database)
        _ = try await store.migrate()
        _ = try await store.seed("\(plugins.root)/schema.sql")
        plugins.add("hostile", manifest: ScopingAttacks.manifest)
        host = PluginHost(
            configuration: PluginHostConfiguration(folder: plugins.folder, librarySearchPath: [TestSupport.buildFolder], stateDirectory: "\(plugins.root)/state"),
            data: try SQLiteScopedData(path: database, logger: TestSupport.logger), logger: TestSupport.logger)
        let report = await host.start()
        guard report.refusals.isEmpty else { throw TestFailure("\(report.refusals)") }
    }

    deinit {
        plugins.remove()
    }

    @Test("reads never return another owner's rows", arguments: ScopingAttacks.reads)
    func reads(attack: ScopingAttacks.Attack) async throws {
        _ = try await ScopingAttacks.run(attack, on: host.servingCatalog)
    }

    @Test("writes stay within the caller's rows", arguments: ScopingAttacks.writes)
    func writes(attack: ScopingAttacks.Attack) async throws {
        _ = try await ScopingAttacks.run(attack, on: host.servingCatalog)
        // Whatever the attack did, bob's rows are as they were and nobody planted one for him.
        let check = try SQLiteStoreInspector(path: database)
        #expect(try check.strings("SELECT id || ':' || owner_id || ':' || name FROM projects WHERE owner_id = 'bob' ORDER BY id") == ["3:bob:BOB-SECRET-PROJECT", "4:bob:12345"])
        #expect(try check.strings("SELECT count(*) FROM projects WHERE name IN ('planted', 'replaced', 'pwned')") == ["0"])
        #expect(try check.strings("SELECT count(*) FROM secrets") == ["2"])
    }

    @Test("each owner sees their own rows")
    func owners() async throws {
        let bob = ScopingAttacks.Attack(name: "bob's baseline", sql: "SELECT owner_id, name FROM projects ORDER BY id", expect: .rows([["bob", "BOB-SECRET-PROJECT"], ["bob", "12345"]]))
        _ = try await ScopingAttacks.run(bob, on: host.servingCatalog, owner: "bob")
        let nobody = ScopingAttacks.Attack(name: "an owner with no rows", sql: "SELECT owner_id, name FROM projects", expect: .count(0))
        _ = try await ScopingAttacks.run(nobody, on: host.servingCatalog, owner: "carol")
    }

    @Test("a huge result stops while it is read: the host's memory stays within 64 MB of its value at rest")
    func hugeResults() async throws {
        _ = try await ScopingAttacks.run(
            .init(name: "at rest", sql: "SELECT owner_id FROM projects", expect: .count(2)), on: host.servingCatalog)
        for (sql, _) in ResidentMemory.probes.filter({ !$0.postgres }) {
            // Through the writing tool for its 30 s time limit: on a loaded machine read_sql's 2 s
            // could answer first.
            let attack = ScopingAttacks.Attack(name: sql, sql: sql, writes: true, expect: .refused("the query's result is over 8 MiB"))
            let growth = try await ResidentMemory.growth { _ = try await ScopingAttacks.run(attack, on: host.servingCatalog) }
            #expect(growth < 64 * ResidentMemory.megabytes, "\(sql): RSS grew by \(growth / ResidentMemory.megabytes) MB")
        }
    }

    @Test("an expression bomb (each CTE doubles the one before) is refused at once, memory bounded, other owners' calls unhindered")
    func expressionBomb() async throws {
        let levels = Int(ProcessInfo.processInfo.environment["PLUGBOARD_BOMB_LEVELS"] ?? "") ?? 22
        let context = MCPCallContext(caller: MCPCaller(owner: "alice"), requestID: .int(1), progress: nil, cancellation: CancellationSignal())
        // Bob's reads go on meanwhile, through the same plugin and pool; each one must succeed.
        let bob = ScopingAttacks.Attack(name: "bob meanwhile", sql: "SELECT owner_id, name FROM projects ORDER BY id", expect: .count(2))
        let host = self.host
        let meanwhile = Task {
            var reads = 0
            while !Task.isCancelled {
                _ = try await ScopingAttacks.run(bob, on: host.servingCatalog, owner: "bob")
                reads += 1
            }
            return reads
        }
        for sql in [ScopingAttacks.expressionBomb(levels: levels), "SELECT 1; " + ScopingAttacks.expressionBomb(levels: levels)] {
            var answer = JSONValue.null
            var elapsed = Duration.zero
            let growth = try await ResidentMemory.growth {
                elapsed = try await ContinuousClock().measure {
                    answer = try await host.servingCatalog.callTool("read_sql", arguments: ["sql": .string(sql)], context: context)
                }
            }
            let text = answer["content"]?.arrayValue?.first?["text"]?.stringValue ?? ""
            #expect(text.contains("needs more memory than SQLite may use for one statement") || text.contains("one statement per call"), "\(answer.jsonString)")
            #expect(elapsed < .seconds(2), "read_sql's time limit is 2 s; the bomb took \(elapsed)")
            #expect(growth < 150 * ResidentMemory.megabytes, "RSS grew by \(growth / ResidentMemory.megabytes) MB")
        }
        meanwhile.cancel()
        #expect(try await meanwhile.value > 0)
    }

    @Test("a result over the tool's max_result_chars stops while it is read, with the tool's limit in the message")
    func toolResultLimit() async throws {
        // read_sql keeps the default limit, 100,000 characters: 60,000 rows of 2 would pass the
        // row cap's 50 only in size, so one wide row and many narrow ones are both refused.
        for sql in ScopingAttacks.overToolLimit {
            let attack = ScopingAttacks.Attack(name: sql, sql: sql, expect: .refused("over this tool's limit of 100000 characters"))
            _ = try await ScopingAttacks.run(attack, on: host.servingCatalog)
        }
    }

    @Test("a runaway query stops at its time limit, rows stop at the cap")
    func limits() async throws {
        let context = try await ScopingAttacks.expectRunawayStopped(on: host.servingCatalog)
        let capped = try await host.servingCatalog.callTool(
            "capped_sql", arguments: ["sql": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 100000) SELECT x FROM c"], context: context)
        #expect(capped["structuredContent"]?["rows"] == [[1], [2], [3]])
        #expect(capped["structuredContent"]?["truncated"] == true)
        // The next query on the same connections is not hit by a late interrupt.
        let after = try await host.servingCatalog.callTool("read_sql", arguments: ["sql": "SELECT count(*) FROM projects"], context: context)
        #expect(after["structuredContent"]?["rows"] == [[2]])
    }
}

/// How much this process's memory grows while something runs: the host runs in the test process.
enum ResidentMemory {
    /// VmRSS of this process, in bytes (0 when /proc cannot be read).
    static var current: Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { return 0 }
        return kilobytes * 1024
    }

    private final class Peak: Sendable {
        let bytes: Mutex<Int>
        init(_ bytes: Int) { self.bytes = Mutex(bytes) }
    }

    /// How far RSS rose above its value before `body`, sampled every millisecond while it ran.
    static func growth(during body: () async throws -> Void) async throws -> Int {
        let before = current
        let peak = Peak(before)
        let sampler = Task.detached {
            while !Task.isCancelled {
                let now = current
                peak.bytes.withLock { $0 = max($0, now) }
                try? await Task.sleep(for: .milliseconds(1))
            }
        }
        defer { sampler.cancel() }
        try await body()
        let now = current
        return peak.bytes.withLock { max($0, now) } - before
    }

    /// Statements whose results would take hundreds of megabytes, and what they must answer.
    static let probes: [(sql: String, postgres: Bool)] = [
        // One row of four 9 MB values (NULs, six characters each in JSON): refused before a value is fetched.
        ("SELECT zeroblob(9000000), zeroblob(9000000), zeroblob(9000000), zeroblob(9000000)", false),
        // Rows under the budget each, over it together: reading stops at the budget.
        ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 50) SELECT x, zeroblob(1500000) FROM c", false),
        // Four 90 MB rows: PostgreSQL refuses the first rather than send it.
        ("SELECT repeat('x', 90000000) FROM generate_series(1, 4)", true),
        ("SELECT repeat('x', 1500000) FROM generate_series(1, 50)", true),
    ]

    static let megabytes = 1024 * 1024
}

/// Reads the database directly, around the scoping, to check what attacks did.
struct SQLiteStoreInspector {
    let connection: SQLiteConnection

    init(path: String) throws {
        connection = try SQLiteConnection(path: path)
    }

    func strings(_ sql: String) throws -> [String] {
        try connection.rows(sql).map { row in
            switch row.first {
            case .text(let text)?: text
            case .integer(let int)?: String(int)
            default: ""
            }
        }
    }
}
