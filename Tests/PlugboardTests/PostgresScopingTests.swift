import Foundation
import Logging
import NIOPosix
@testable import PlugboardData
import PlugboardContracts
import PlugboardJSON
import PlugboardMCP
import PlugboardPlugins
import PostgresNIO
import Testing

/// The test cluster `scripts/test` starts (`scripts/postgres`): host:port in PLUGBOARD_TEST_POSTGRES,
/// superuser `postgres`, roles `pb_owner` (owns the data, CREATEROLE) and `pb_query` (the pool login).
enum TestPostgres {
    static let address: (host: String, port: Int)? = {
        guard let value = ProcessInfo.processInfo.environment["PLUGBOARD_TEST_POSTGRES"], let colon = value.lastIndex(of: ":"),
            let port = Int(value[value.index(after: colon)...])
        else { return nil }
        return (String(value[..<colon]), port)
    }()

    static func url(user: String, database: String) -> String {
        "postgres://\(user)@\(address?.host ?? "127.0.0.1"):\(address?.port ?? 5432)/\(database)"
    }

    /// Runs SQL (several statements allowed) as `user` in `database`.
    static func execute(_ sql: String, user: String, database: String) async throws {
        _ = try await rows(sql, user: user, database: database)
    }

    /// The text of every cell of every row a query returns, as `user`.
    static func rows(_ sql: String, user: String, database: String) async throws -> [[String]] {
        guard let address else { throw TestFailure("PLUGBOARD_TEST_POSTGRES is not set") }
        let configuration = PostgresConnection.Configuration(host: address.host, port: address.port, username: user, password: nil, database: database, tls: .disable)
        let connection = try await PostgresConnection.connect(
            on: MultiThreadedEventLoopGroup.singleton.any(), configuration: configuration, id: 1, logger: TestSupport.logger)
        defer { Task { try? await connection.close() } }
        var result: [[String]] = []
        for statement in SQLScript.statements(sql) {
            let rows = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: TestSupport.logger).get().rows
            result = try rows.map { row in try row.map { cell in cell.bytes == nil ? "NULL" : try cell.decode(String.self) } }
        }
        return result
    }

    /// A fresh database owned by pb_owner, holding `schema`.
    static func database(schema: String) async throws -> String {
        let name = "pbtest_\(UUID().uuidString.prefix(8).lowercased())"
        try await execute("CREATE DATABASE \(name) OWNER pb_owner", user: "postgres", database: "postgres")
        try await execute(schema, user: "pb_owner", database: name)
        return name
    }
}

@Suite("Per-owner scoping on PostgreSQL", .serialized, .enabled(if: TestPostgres.address != nil, "needs PLUGBOARD_TEST_POSTGRES (scripts/test starts a cluster)"))
final class PostgresScopingTests {
    static let schema = """
        CREATE TABLE customers (id SERIAL PRIMARY KEY, owner_id TEXT NOT NULL DEFAULT current_setting('plugboard.owner', true), name TEXT NOT NULL);
        CREATE TABLE projects (
          id SERIAL PRIMARY KEY, owner_id TEXT NOT NULL DEFAULT current_setting('plugboard.owner', true), name TEXT NOT NULL, customer_id INT);
        CREATE TABLE currencies (code TEXT PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE secrets (id SERIAL PRIMARY KEY, owner_id TEXT NOT NULL, secret TEXT NOT NULL);
        CREATE VIEW project_names AS SELECT owner_id, name FROM projects;
        INSERT INTO customers (owner_id, name) VALUES ('alice', 'Alice Corp'), ('bob', 'Bob Ltd');
        INSERT INTO projects (owner_id, name, customer_id) VALUES
          ('alice', 'alice-p1', 1), ('alice', 'alice-p2', 1), ('bob', 'BOB-SECRET-PROJECT', 2), ('bob', '12345', 2);
        INSERT INTO currencies VALUES ('EUR', 'Euro'), ('USD', 'US dollar');
        INSERT INTO secrets (owner_id, secret) VALUES ('alice', 'alice-secret'), ('bob', 'bob-secret');
        CREATE TABLE plugboard_audit (id BIGSERIAL PRIMARY KEY, owner TEXT NOT NULL);
        INSERT INTO plugboard_audit (owner) VALUES ('bob'), ('bob'), ('alice');
        """

    let plugins = PluginFolder()
    let database: String
    let data: PostgresScopedData
    let host: PluginHost

    init() async throws {
        database = try await TestPostgres.database(schema: Self.schema)
        data = try PostgresScopedData(
            query: try PostgresLocation(url: TestPostgres.url(user: "pb_query", database: database)),
            owner: try PostgresLocation(url: TestPostgres.url(user: "pb_owner", database: database)), superuser: nil, logger: TestSupport.logger)
        let declarations = Self.declarations
        // The owner of the tables cannot do the superuser part: the host says so, with the SQL.
        let problems = await data.prepare(declarations)
        let problem = try #require(problems["hostile"])
        #expect(problem.contains("PUBLIC cannot execute set_config"))
        #expect(problem.contains("REVOKE EXECUTE ON FUNCTION pg_catalog.set_config(text, text, boolean) FROM PUBLIC;"))
        #expect(problem.contains("PUBLIC cannot execute the functions that observe other calls"))
        #expect(data.unready != nil, "not ready while a plugin's scoping is not set up")
        // A superuser runs it; now everything checks out.
        try await TestPostgres.execute(Self.superuserSQL(database), user: "postgres", database: database)
        #expect(await data.prepare(declarations).isEmpty)
        #expect(data.unready == nil)

        plugins.add("hostile", manifest: ScopingAttacks.manifest)
        host = PluginHost(
            configuration: PluginHostConfiguration(folder: plugins.folder, librarySearchPath: [TestSupport.buildFolder], stateDirectory: "\(plugins.root)/state"),
            data: data, logger: TestSupport.logger)
        let report = await host.start()
        guard report.refusals.isEmpty else { throw TestFailure("\(report.refusals)") }
    }

    deinit {
        plugins.remove()
    }

    static let declarations = [
        PluginTables(
            plugin: "hostile", manifest: "manifest.yaml",
            tables: [
                TableDeclaration(name: "projects", ownerColumn: "owner_id", shared: false),
                TableDeclaration(name: "customers", ownerColumn: "owner_id", shared: false),
                TableDeclaration(name: "currencies", ownerColumn: nil, shared: true),
            ], writes: true)
    ]

    /// The superuser part of the hardening, as a DBA would run it (one script).
    static func superuserSQL(_ database: String) -> String {
        PostgresScoping(queryRole: "pb_query", database: database).superuserStatements(owner: "pb_owner").joined(separator: ";\n")
    }

    /// A second host on the same database whose plugin queries share one pooled connection: every
    /// call runs on the connection the previous call used.
    func oneConnectionHost() async throws -> (host: PluginHost, folder: PluginFolder) {
        let data = try PostgresScopedData(
            query: try PostgresLocation(url: TestPostgres.url(user: "pb_query", database: database)),
            owner: try PostgresLocation(url: TestPostgres.url(user: "pb_owner", database: database)), superuser: nil, connections: 1,
            logger: TestSupport.logger)
        let folder = PluginFolder()
        folder.add("hostile", manifest: ScopingAttacks.manifest)
        let host = PluginHost(
            configuration: PluginHostConfiguration(folder: folder.folder, librarySearchPath: [TestSupport.buildFolder], stateDirectory: "\(folder.root)/state"),
            data: data, logger: TestSupport.logger)
        let report = await host.start()
        guard report.refusals.isEmpty else { throw TestFailure("\(report.refusals)") }
        return (host, folder)
    }

    @Test("side channels: after bob's calls on the same pooled connection, alice learns nothing of them")
    func sideChannels() async throws {
        let (host, folder) = try await oneConnectionHost()
        defer { folder.remove() }
        let catalog = host.servingCatalog
        let sequences = "SELECT (SELECT last_value FROM plugboard_audit_id_seq)::text || '/' || (SELECT last_value FROM secrets_id_seq)::text"
        let before = try await TestPostgres.rows(sequences, user: "postgres", database: database)
        // Bob writes, and repeats a read with a literal until it is a prepared statement on the connection.
        let insert = ScopingAttacks.Attack(name: "bob inserts", sql: "INSERT INTO projects (name) VALUES ('BOB-SECRET-PROJECT') RETURNING id", writes: true, expect: .count(1))
        let bobsID = try await ScopingAttacks.run(insert, on: catalog, owner: "bob", postgres: true)["structuredContent"]?["rows"]?.arrayValue?.first?.arrayValue?.first?.integerValue
        let literal = ScopingAttacks.Attack(name: "bob's literal", sql: "SELECT name FROM projects WHERE name <> 'BOBSECRET-LITERAL'", expect: .count(3))
        for _ in 1...3 { _ = try await ScopingAttacks.run(literal, on: catalog, owner: "bob", postgres: true) }
        _ = try await ScopingAttacks.run(insert, on: catalog, owner: "bob", postgres: true)

        let refused = "query refused: it uses something this plugin may not use"
        let probes: [ScopingAttacks.Attack] = [
            .init(name: "prepared statements", sql: "SELECT name, statement FROM pg_prepared_statement()", expect: .refused(refused)),
            .init(name: "prepared statements view", sql: "SELECT name, statement FROM pg_prepared_statements", expect: .refused(refused)),
            .init(name: "cursors", sql: "SELECT name, statement FROM pg_cursor()", expect: .refused(refused)),
            .init(name: "lastval", sql: "SELECT lastval()", expect: .refused(refused)),
            .init(name: "currval", sql: "SELECT currval('projects_id_seq')", expect: .refused(refused)),
            .init(name: "currval in a writing tool", sql: "SELECT currval('projects_id_seq')", writes: true, expect: .refused(refused)),
            .init(name: "pending statistics", sql: "SELECT pg_stat_get_xact_tuples_inserted('projects'::regclass)", expect: .refused(refused)),
            .init(name: "live tuples", sql: "SELECT pg_stat_get_live_tuples('projects'::regclass)", expect: .refused(refused)),
            .init(name: "tuples inserted", sql: "SELECT pg_stat_get_tuples_inserted('projects'::regclass)", expect: .refused(refused)),
            .init(name: "statistics view", sql: "SELECT n_live_tup FROM pg_stat_user_tables", expect: .refused(refused)),
            .init(name: "I/O statistics view", sql: "SELECT heap_blks_hit FROM pg_statio_user_tables", expect: .refused(refused)),
            .init(name: "other sessions", sql: "SELECT count(*) FROM pg_stat_get_activity(NULL) AS a", expect: .refused(refused)),
            .init(name: "the host's audit count", sql: "SELECT pg_sequence_last_value('plugboard_audit_id_seq')", expect: .refused(refused)),
            .init(name: "a sequence read as a table", sql: "SELECT last_value FROM projects_id_seq", expect: .refused(refused)),
            .init(name: "nextval on the host's sequence", sql: "SELECT nextval('plugboard_audit_id_seq')", writes: true, expect: .refused(refused)),
            .init(name: "nextval on an undeclared table's sequence", sql: "SELECT nextval('secrets_id_seq')", writes: true, expect: .refused(refused)),
            .init(name: "setval on its own table's sequence", sql: "SELECT setval('projects_id_seq', 1)", writes: true, expect: .refused(refused)),
            .init(name: "relation size", sql: "SELECT pg_relation_size('projects')", expect: .refused(refused)),
            .init(name: "row positions past row-level security", sql: "SELECT currtid2('projects', '(0,3)')", expect: .refused(refused)),
            .init(name: "transaction counter", sql: "SELECT txid_current()", expect: .refused(refused)),
            .init(name: "transaction age", sql: "SELECT age('3'::xid)", expect: .refused(refused)),
            .init(name: "SQL text past the gate", sql: "SELECT query_to_xml('SELECT * FROM projects', true, false, '')", expect: .refused(refused)),
            .init(name: "locks", sql: "SELECT count(*) FROM pg_lock_status() AS l", expect: .refused(refused)),
            .init(name: "advisory locks", sql: "SELECT pg_try_advisory_xact_lock(1)", expect: .refused(refused)),
            .init(name: "a view's definition", sql: "SELECT pg_get_viewdef('project_names'::regclass)", expect: .refused(refused)),
            .init(name: "unterminated comment", sql: "SELECT id FROM projects /* unterminated", expect: .refused("the statement has an unterminated /* comment")),
        ]
        for probe in probes {
            let result = try await ScopingAttacks.run(probe, on: catalog, owner: "alice", postgres: true)
            let text = result.jsonString
            #expect(!text.contains("BOBSECRET"), "\(probe.name): \(text)")
            if let bobsID { #expect(!text.contains("\(bobsID)"), "\(probe.name): bob's id in \(text)") }
        }
        let after = try await TestPostgres.rows(sequences, user: "postgres", database: database)
        #expect(after == before, "no sequence but its own moved")
    }

    @Test("sequence values a write leaves in the session are gone before the connection serves the next call")
    func sequenceState() async throws {
        let (host, folder) = try await oneConnectionHost()
        defer { folder.remove() }
        // currval and lastval are revoked; granted back here, they show what the session holds.
        let role = PostgresScoping.role(for: "hostile")
        try await TestPostgres.execute(
            "GRANT EXECUTE ON FUNCTION currval(regclass), lastval() TO \(role)", user: "postgres", database: database)
        defer { Task { [database] in try? await TestPostgres.execute("REVOKE EXECUTE ON FUNCTION currval(regclass), lastval() FROM \(role)", user: "postgres", database: database) } }
        let insert = ScopingAttacks.Attack(name: "bob inserts", sql: "INSERT INTO projects (name) VALUES ('bob-new') RETURNING id", writes: true, expect: .count(1))
        _ = try await ScopingAttacks.run(insert, on: host.servingCatalog, owner: "bob", postgres: true)
        for (sql, writes) in [("SELECT currval('projects_id_seq')", false), ("SELECT lastval()", false), ("SELECT lastval()", true)] {
            // 55000: not yet defined in this session.
            let probe = ScopingAttacks.Attack(name: sql, sql: sql, writes: writes, expect: .refused("the query failed (SQLSTATE 55000)"))
            _ = try await ScopingAttacks.run(probe, on: host.servingCatalog, owner: "alice", postgres: true)
        }
    }

    @Test("three instances setting scoping up on one database at the same moment all succeed")
    func concurrentSetUp() async throws {
        let database = try await TestPostgres.database(schema: Self.schema)
        func instance() throws -> PostgresScopedData {
            try PostgresScopedData(
                query: try PostgresLocation(url: TestPostgres.url(user: "pb_query", database: database)),
                owner: try PostgresLocation(url: TestPostgres.url(user: "pb_owner", database: database)),
                superuser: try PostgresLocation(url: TestPostgres.url(user: "postgres", database: database)), logger: TestSupport.logger)
        }
        let fresh = (1...3).map { number in
            PluginTables(
                plugin: "race-\(UUID().uuidString.prefix(8))-\(number)", manifest: "manifest.yaml", tables: Self.declarations[0].tables,
                writes: number != 2)
        }
        // Plugins whose roles do not exist yet (all three create them), then the same plugins
        // again as after a restart (all three grant and revoke on the same objects).
        for (round, declarations) in [fresh, fresh].enumerated() {
            let instances = try (1...3).map { _ in try instance() }
            let outcomes = await withTaskGroup(of: [String: String].self) { group in
                for data in instances { group.addTask { await data.prepare(declarations) } }
                return await group.reduce(into: []) { $0.append($1) }
            }
            let problems = outcomes.filter { !$0.isEmpty }
            #expect(problems.isEmpty, "round \(round): \(problems)")
            let unready = instances.compactMap(\.unready)
            #expect(unready.isEmpty, "round \(round): not ready: \(unready)")
        }
    }

    @Test("reads never return another owner's rows, unprepared or prepared", arguments: ScopingAttacks.reads)
    func reads(attack: ScopingAttacks.Attack) async throws {
        // A read that succeeds twice runs as a prepared statement from then on: the third run.
        for _ in 1...3 {
            _ = try await ScopingAttacks.run(attack, on: host.servingCatalog, postgres: true)
        }
        if case .refused = attack.postgres ?? attack.expect {
            #expect(data.reads.count == 0, "a refused read is never prepared")
        } else {
            #expect(data.reads.count == 1, "the third run was prepared")
        }
    }

    @Test("prepared reads on generic plans are scoped to whoever calls them")
    func preparedOwners() async throws {
        let projects = "SELECT owner_id, name FROM projects WHERE id > $1 ORDER BY id"
        let customers = "SELECT owner_id, name FROM customers WHERE id > $1 ORDER BY id"
        let expected: [String: (projects: ScopingAttacks.Expectation, customers: ScopingAttacks.Expectation)] = [
            "alice": (.rows([["alice", "alice-p1"], ["alice", "alice-p2"]]), .rows([["alice", "Alice Corp"]])),
            "bob": (.rows([["bob", "BOB-SECRET-PROJECT"], ["bob", "12345"]]), .rows([["bob", "Bob Ltd"]])),
            "carol": (.count(0), .count(0)),
        ]
        // Generic plans (planned once, without the parameters or the owner) from the first
        // prepared run; two statements interleaved, the owner changing from call to call.
        try await TestPostgres.execute(
            "ALTER ROLE pb_query IN DATABASE \(database) SET plan_cache_mode = force_generic_plan", user: "postgres", database: database)
        for owner in ["alice", "alice", "bob", "alice", "carol", "bob", "alice", "bob", "carol", "alice", "bob", "alice"] {
            let expect = try #require(expected[owner])
            for (sql, expectation) in [(projects, expect.projects), (customers, expect.customers)] {
                let attack = ScopingAttacks.Attack(name: "\(owner): \(sql)", sql: sql, parameters: [0], expect: expectation)
                _ = try await ScopingAttacks.run(attack, on: host.servingCatalog, owner: owner, postgres: true)
            }
        }
        #expect(data.reads.count == 2, "both reads ran prepared after their first two runs")
    }

    @Test("a prepared read whose table changed shape runs again unprepared, without failing the call")
    func preparedAfterSchemaChange() async throws {
        let before = ScopingAttacks.Attack(name: "before", sql: "SELECT * FROM currencies ORDER BY code", expect: .rows([["EUR", "Euro"], ["USD", "US dollar"]]))
        for _ in 1...3 {
            _ = try await ScopingAttacks.run(before, on: host.servingCatalog, postgres: true)
        }
        #expect(data.reads.count == 1)
        try await TestPostgres.execute("ALTER TABLE currencies ADD COLUMN symbol TEXT NOT NULL DEFAULT '?'", user: "pb_owner", database: database)
        let after = ScopingAttacks.Attack(
            name: "after", sql: "SELECT * FROM currencies ORDER BY code", expect: .rows([["EUR", "Euro", "?"], ["USD", "US dollar", "?"]]))
        for _ in 1...3 {
            _ = try await ScopingAttacks.run(after, on: host.servingCatalog, postgres: true)
        }
    }

    @Test("writes stay within the caller's rows", arguments: ScopingAttacks.writes)
    func writes(attack: ScopingAttacks.Attack) async throws {
        _ = try await ScopingAttacks.run(attack, on: host.servingCatalog, postgres: true)
        let bob = try await TestPostgres.rows("SELECT id || ':' || owner_id || ':' || name FROM projects WHERE owner_id = 'bob' ORDER BY id", user: "postgres", database: database)
        #expect(bob == [["3:bob:BOB-SECRET-PROJECT"], ["4:bob:12345"]])
        let planted = try await TestPostgres.rows("SELECT count(*)::text FROM projects WHERE name IN ('planted', 'replaced', 'pwned')", user: "postgres", database: database)
        #expect(planted == [["0"]])
    }

    @Test("each owner sees their own rows")
    func owners() async throws {
        let bob = ScopingAttacks.Attack(name: "bob's baseline", sql: "SELECT owner_id, name FROM projects ORDER BY id", expect: .rows([["bob", "BOB-SECRET-PROJECT"], ["bob", "12345"]]))
        _ = try await ScopingAttacks.run(bob, on: host.servingCatalog, owner: "bob", postgres: true)
        let nobody = ScopingAttacks.Attack(name: "an owner with no rows", sql: "SELECT owner_id, name FROM projects", expect: .count(0))
        _ = try await ScopingAttacks.run(nobody, on: host.servingCatalog, owner: "carol", postgres: true)
    }

    @Test("column types become JSON values; an unconvertible type names the cast that fixes it")
    func types() async throws {
        let values = ScopingAttacks.Attack(
            name: "types",
            sql: """
                SELECT 7::int2, 8::int8, 2.5::float8, 12.30::numeric(6, 2), true, 'x'::varchar, 'y'::char(2),
                       DATE '2026-01-06', TIMESTAMPTZ '2026-01-06 10:00:00.250+00', '{"a": [1, 2]}'::jsonb,
                       '5f0c4a1e-0000-4000-8000-000000000001'::uuid, NULL::text
                """,
            expect: .rows([[7, 8, 2.5, 12.3, true, "x", "y ", "2026-01-06", "2026-01-06T10:00:00.250Z", ["a": [1, 2]], "5f0c4a1e-0000-4000-8000-000000000001", nil]]))
        _ = try await ScopingAttacks.run(values, on: host.servingCatalog, postgres: true)
        let interval = ScopingAttacks.Attack(name: "interval", sql: "SELECT interval '1 day' AS span", expect: .refused("cast it in the query, e.g. span::text"))
        _ = try await ScopingAttacks.run(interval, on: host.servingCatalog, postgres: true)
    }

    @Test("syntax errors quote the plugin's own text, never the row cap the host wraps around it")
    func syntaxErrors() async throws {
        let cases: [(sql: String, message: String)] = [
            ("SELECT id FROM projects /* unterminated", "unterminated /* comment"),
            ("SELECT id FROM projects /* nested /* */", "unterminated /* comment"),
            ("SELECT E'open\\'", "unterminated quote"),
            // These pass the gate; PostgreSQL's message would quote the cap's `)` or `AS`.
            ("SELECT id FROM", "syntax error at the end of the statement"),
            ("SELECT (1", "syntax error at the end of the statement"),
            ("SELECT id FROM projects WHERE", "syntax error at the end of the statement"),
            ("SELECT 123abc FROM projects", "trailing junk after numeric literal at or near \"123abc\""),
            // Inside a fenced subquery, past the text the fence inserts before it.
            ("SELECT x FROM (SELECT 1 x WHERE) s", "syntax error at or near \")\""),
            ("SELECT x FROM (SELECT 1 AS x, 2abc) s", "trailing junk after numeric literal at or near \"2abc\""),
        ]
        for (sql, expected) in cases {
            let attack = ScopingAttacks.Attack(name: sql, sql: sql, expect: .refused(expected))
            let result = try await ScopingAttacks.run(attack, on: host.servingCatalog, postgres: true)
            let message = result["content"]?.arrayValue?.first?["text"]?.stringValue ?? ""
            for wrapper in ["LIMIT", "AS", "pb_rows", "pb_fence", "OFFSET", "51"] {
                #expect(!message.contains(wrapper), "\(sql): the host's text in '\(message)'")
            }
        }
    }

    @Test("expression bombs are planned in milliseconds: CTEs materialized, subqueries fenced", arguments: ["cte", "subquery"])
    func expressionBomb(form: String) async throws {
        let levels = Int(ProcessInfo.processInfo.environment["PLUGBOARD_BOMB_LEVELS"] ?? "") ?? 22
        var sql = "SELECT 1 AS x"
        if form == "cte" {
            sql = ScopingAttacks.expressionBomb(levels: levels)
        } else {
            for level in 0..<levels { sql = "SELECT x + x AS x FROM (\(sql)) AS s\(level)" }
        }
        let context = MCPCallContext(caller: MCPCaller(owner: "alice"), requestID: .int(1), progress: nil, cancellation: CancellationSignal())
        let started = ContinuousClock.now
        let result = try await host.servingCatalog.callTool("read_sql", arguments: ["sql": .string(sql)], context: context)
        let elapsed = ContinuousClock.now - started
        #expect(result["structuredContent"]?["rows"] == [[.int(1 << levels)]], "\(result.jsonString)")
        #expect(elapsed < .seconds(1), "\(form), \(levels) levels took \(elapsed)")
    }

    @Test("a huge result stops while it is read: the host's memory stays within 64 MB of its value at rest")
    func hugeResults() async throws {
        _ = try await ScopingAttacks.run(
            .init(name: "at rest", sql: "SELECT owner_id FROM projects", expect: .count(2)), on: host.servingCatalog, postgres: true)
        for (sql, _) in ResidentMemory.probes.filter(\.postgres) {
            // Through the writing tool for its 30 s time limit: on a loaded machine read_sql's 2 s
            // could answer first. A SELECT takes the read path (capped, budgeted) in any tool.
            let attack = ScopingAttacks.Attack(name: sql, sql: sql, writes: true, expect: .refused("the query's result is over 8 MiB"))
            let growth = try await ResidentMemory.growth { _ = try await ScopingAttacks.run(attack, on: host.servingCatalog, postgres: true) }
            #expect(growth < 64 * ResidentMemory.megabytes, "\(sql): RSS grew by \(growth / ResidentMemory.megabytes) MB")
        }
        #expect(data.reads.count == 0, "a read over the budget is never prepared")
        // A prepared read stops at the budget as well.
        let growing = "SELECT repeat('x', $1::int) FROM generate_series(1, 50)"
        for _ in 1...2 {
            _ = try await ScopingAttacks.run(
                .init(name: "small", sql: growing, parameters: [10], writes: true, expect: .count(50)), on: host.servingCatalog, postgres: true)
        }
        #expect(data.reads.count == 1)
        let large = ScopingAttacks.Attack(
            name: "large", sql: growing, parameters: [1_500_000], writes: true, expect: .refused("the query's result is over 8 MiB"))
        let growth = try await ResidentMemory.growth { _ = try await ScopingAttacks.run(large, on: host.servingCatalog, postgres: true) }
        #expect(growth < 64 * ResidentMemory.megabytes, "prepared: RSS grew by \(growth / ResidentMemory.megabytes) MB")
        #expect(data.reads.count == 1, "still prepared: the read ran, its result was too large")
        // A write's RETURNING counts too (after it arrives); the write is rolled back.
        let returning = ScopingAttacks.Attack(
            name: "RETURNING", sql: "UPDATE projects SET name = name RETURNING repeat('x', 5000000)", writes: true,
            expect: .refused("the query's result is over 8 MiB"))
        _ = try await ScopingAttacks.run(returning, on: host.servingCatalog, postgres: true)
    }

    @Test("a result over the tool's max_result_chars stops while it is read, with the tool's limit in the message")
    func toolResultLimit() async throws {
        for sql in ["SELECT owner_id, repeat('x', 150000) AS wide FROM projects", "SELECT repeat('x', 3000) FROM generate_series(1, 50)"] {
            let attack = ScopingAttacks.Attack(name: sql, sql: sql, expect: .refused("over this tool's limit of 100000 characters"))
            _ = try await ScopingAttacks.run(attack, on: host.servingCatalog, postgres: true)
        }
    }

    @Test("a runaway query stops at its time limit, rows stop at the cap")
    func limits() async throws {
        let context = try await ScopingAttacks.expectRunawayStopped(on: host.servingCatalog)
        let started = ContinuousClock.now
        let capped = try await host.servingCatalog.callTool(
            "capped_sql", arguments: ["sql": "SELECT generate_series(1, 20000000)"], context: context)
        #expect(capped["structuredContent"]?["rows"] == [[1], [2], [3]], "\(capped.jsonString)")
        #expect(capped["structuredContent"]?["truncated"] == true)
        // Text shaped to close the subquery the cap wraps it in: the cap still binds last.
        let escape = try await host.servingCatalog.callTool(
            "capped_sql", arguments: ["sql": "SELECT 1) AS a UNION ALL SELECT * FROM (SELECT generate_series(1, 20000000)"], context: context)
        #expect(escape["structuredContent"]?["rows"]?.arrayValue?.count == 3, "\(escape.jsonString)")
        #expect(escape["structuredContent"]?["truncated"] == true)
        #expect(ContinuousClock.now - started < .seconds(2), "the capped reads stop early")
    }
}
