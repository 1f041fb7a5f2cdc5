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
        #expect(refusal("SELECT $q$ never closed") == "the statement has an unterminated quote")
        #expect(refusal("-- nothing\n;") == "the statement is empty")
        #expect(refusal("DELETE FROM t")?.contains("read-only") == true)
        #expect(refusal("DELETE FROM t", writes: true) == nil)
        #expect(refusal("INSERT OR REPLACE INTO t VALUES (1)", writes: true) == "INSERT OR ... conflict clauses are not allowed")
        #expect(refusal("SELECT 1\u{0}") == "the statement contains a NUL byte")
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
