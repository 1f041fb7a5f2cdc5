import Testing

@testable import PlugboardData

/// PostgreSQL plans every CTE and subquery of a plugin's statement on its own (`PlanFences`):
/// what the rewrite touches, what it leaves alone, and how error positions map back.
@Suite("Plan fences")
struct PlanFencesTests {
    func fenced(_ sql: String) throws -> StatementGate.Statement {
        try PlanFences.apply(to: StatementGate.Statement(kind: "SELECT", body: Substring(sql)))
    }

    @Test("CTEs are materialized, subqueries fenced with OFFSET 0, CTE bodies not fenced twice")
    func rewrites() throws {
        #expect(
            try fenced("WITH a AS (SELECT 1 AS x), b(x) AS (SELECT x + x FROM a) SELECT x FROM b").body
                == "WITH a AS MATERIALIZED (SELECT 1 AS x), b(x) AS MATERIALIZED (SELECT x + x FROM a) SELECT x FROM b")
        #expect(
            try fenced("SELECT s.x FROM (SELECT 1 AS x) s WHERE s.x IN (SELECT 1)").body
                == "SELECT s.x FROM (SELECT * FROM (SELECT 1 AS x) AS pb_fence OFFSET 0) s WHERE s.x IN (SELECT * FROM (SELECT 1) AS pb_fence OFFSET 0)")
        #expect(try fenced("with a as materialized (select 1) select * from a").body == "with a as materialized (select 1) select * from a")
        #expect(
            try fenced("WITH d AS (DELETE FROM t RETURNING id) SELECT * FROM d").body
                == "WITH d AS MATERIALIZED (DELETE FROM t RETURNING id) SELECT * FROM d")
    }

    @Test("left alone: strings, comments, column lists, function calls, window clauses")
    func untouched() throws {
        for sql in [
            "SELECT '(SELECT 1)' AS text -- (SELECT 2)",
            "SELECT * FROM json_to_record('{\"a\":1}') AS (a int)",
            "SELECT count(*) OVER (PARTITION BY owner_id) FROM projects",
            "INSERT INTO t (a, b) VALUES (1, now())",
            "SELECT $$ AS (SELECT $$",
        ] {
            #expect(try fenced(sql).body == Substring(sql), "\(sql)")
        }
    }

    @Test("NOT MATERIALIZED is refused: it would bring inlining back")
    func notMaterialized() {
        #expect(throws: QueryRefusal.self) { try fenced("WITH a AS NOT MATERIALIZED (SELECT 1) SELECT * FROM a") }
    }

    @Test("a position in the text sent maps back to the plugin's own text")
    func positions() throws {
        let original = "SELECT ä FROM (SELECT bad syntax) s"
        let statement = try fenced(original)
        #expect(statement.original == Substring(original))
        let sent = Array(statement.body.unicodeScalars)
        let plugin = Array(original.unicodeScalars)
        // "bad" in the text sent is "bad" in the plugin's text; inside the inserted text, the
        // plugin's next character.
        let badSent = String(String.UnicodeScalarView(sent)).range(of: "bad").map { statement.body.unicodeScalars.distance(from: statement.body.startIndex, to: $0.lowerBound) }
        let badOwn = original.range(of: "bad").map { original.unicodeScalars.distance(from: original.startIndex, to: $0.lowerBound) }
        #expect(badSent.map(statement.originalPosition) == badOwn)
        let insideInsert = (sent.firstIndex(of: "(") ?? 0) + 3  // within "SELECT * FROM ("
        #expect(plugin[statement.originalPosition(of: insideInsert)] == "S", "the plugin's SELECT after its own '('")
    }
}
