import PlugboardContracts
import Testing

@testable import PlugboardData

@Suite("The statement gate and the script splitter")
struct StatementGateTests {
    func refusal(_ sql: String, writes: Bool = false) -> String? {
        do {
            _ = try StatementGate.check(sql, writes: writes)
            return nil
        } catch {
            return error.message
        }
    }

    @Test("a statement keeps its kind and loses only its terminator")
    func body() throws {
        let statement = try StatementGate.check("select ';' AS x, $t$;$t$ -- ;\n; -- done", writes: false)
        #expect(statement.kind == "SELECT")
        #expect(statement.body == "select ';' AS x, $t$;$t$ -- ;\n")
        #expect(try StatementGate.check("SELECT $1 AS a$b", writes: false).body == "SELECT $1 AS a$b")
    }

    @Test("what the gate refuses, and why")
    func refusals() {
        #expect(refusal("SELECT 1; SELECT 2") == "one statement per call: remove what follows the ';'")
        #expect(refusal("SELECT $$;$$; DROP TABLE x")?.hasPrefix("one statement per call") == true)
        #expect(refusal("SELECT 'open") == "the statement has an unterminated quote")
        #expect(refusal("SELECT $q$ never closed") == "the statement has an unterminated dollar-quoted string")
        #expect(refusal("-- nothing\n;") == "the statement is empty")
        #expect(refusal("DELETE FROM t")?.contains("read-only") == true)
        #expect(refusal("DELETE FROM t", writes: true) == nil)
        #expect(refusal("INSERT OR REPLACE INTO t VALUES (1)", writes: true) == "INSERT OR ... conflict clauses are not allowed")
        #expect(refusal("SELECT 1\u{0}") == "the statement contains a NUL byte")
    }

    @Test("whatever is left open is refused, as PostgreSQL would read it")
    func unterminated() {
        #expect(refusal("SELECT id FROM notes /* unterminated") == "the statement has an unterminated /* comment")
        // PostgreSQL nests comments: the first */ closes only the inner one.
        #expect(refusal("SELECT 1 /* a /* b */") == "the statement has an unterminated /* comment")
        #expect(refusal("SELECT 1 /* a /* b */ c */") == nil)
        #expect(refusal("SELECT 1 /*/") == "the statement has an unterminated /* comment")
        #expect(refusal("SELECT \"open") == "the statement has an unterminated quoted identifier")
        #expect(refusal("SELECT `open") == "the statement has an unterminated quoted identifier")
        #expect(refusal("SELECT [open") == "the statement has an unterminated [ quoted identifier")
        #expect(refusal("SELECT $$open") == "the statement has an unterminated dollar-quoted string")
        // E'...' takes backslash escapes: \' does not close it.
        #expect(refusal("SELECT E'abc\\'") == "the statement has an unterminated quote")
        #expect(refusal("SELECT e'it\\'s'") == nil)
        #expect(refusal("SELECT E'\\\\'") == nil)
        // Elsewhere a backslash is an ordinary character.
        #expect(refusal("SELECT 'a\\'") == nil)
        #expect(refusal("SELECT E'a\\'; DROP TABLE t; '") == nil, "one string: the semicolons are inside it")
        #expect(refusal("SELECT 'a\\'; DROP TABLE t; ''")?.hasPrefix("one statement per call") == true)
    }

    @Test("PostgreSQL's messages quote only the plugin's own text, never the row cap around it")
    func positionedMessages() {
        let prefix = PostgresScopedData.cappedPrefix.unicodeScalars.count
        func message(_ server: String, _ body: Substring, near token: String?) -> String {
            let sent = PostgresScopedData.capped(body, rows: 51, budget: QueryScope.hostResultBytes)
            let position = token.flatMap { sent.range(of: $0) }.map { sent.unicodeScalars.distance(from: sent.unicodeScalars.startIndex, to: $0.lowerBound) + 1 }
            return PostgresErrorText.plugin(server, position: position.map(String.init), statement: body, offset: prefix)
        }
        // What PostgreSQL 15 answers to these statements inside the cap.
        #expect(
            message("unterminated /* comment at or near \"/* unterminated\n) AS pb_rows LIMIT 51\"", "SELECT id FROM notes /* unterminated", near: "/*")
                == "unterminated /* comment at or near \"/* unterminated\"")
        #expect(
            message("unterminated quoted string at or near \"'abc\n) AS pb_rows LIMIT 51\"", "SELECT 'abc", near: "'abc")
                == "unterminated quoted string at or near \"'abc\"")
        #expect(message("syntax error at or near \")\"", "SELECT 1 FROM", near: ") AS") == "syntax error at the end of the statement")
        #expect(message("syntax error at end of input", "SELECT (1", near: nil) == "syntax error at the end of the statement")
        #expect(message("trailing junk after numeric literal at or near \"123abc\"", "SELECT 123abc", near: "123abc") == "trailing junk after numeric literal at or near \"123abc\"")
        #expect(message("syntax error at or near \"FORM\"", "SELECT é FORM t", near: "FORM") == "syntax error at or near \"FORM\"")
        // Without a position, no quote at all.
        #expect(PostgresErrorText.plugin("syntax error at or near \"AS\"", position: nil, statement: "x", offset: prefix) == "syntax error")
        // A write is sent as it is: the whole statement is the plugin's.
        #expect(PostgresErrorText.plugin("syntax error at or near \"FORM\"", position: "10", statement: "DELETE x FORM t", offset: 0) == "syntax error at or near \"FORM\"")
    }

    @Test("a script splits at semicolons outside quotes, comments and dollar-quoted bodies")
    func script() {
        let script = """
            CREATE FUNCTION f() RETURNS int AS $body$ BEGIN RETURN 1; END; $body$ LANGUAGE plpgsql;
            -- a comment; not a statement
            INSERT INTO t VALUES ('a;b'); /* ; */
            """
        #expect(
            SQLScript.statements(script).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } == [
                "CREATE FUNCTION f() RETURNS int AS $body$ BEGIN RETURN 1; END; $body$ LANGUAGE plpgsql",
                "-- a comment; not a statement\nINSERT INTO t VALUES ('a;b')",
            ])
        #expect(SQLScript.statements("SELECT 'never closed; SELECT 2") == ["SELECT 'never closed; SELECT 2"])
    }
}
