import Testing

@testable import PlugboardData

/// The host's own statements are written once, with SQLite placeholders, for both databases.
@Suite("Store statements")
struct StorePlaceholderTests {
    @Test("?N becomes $N for PostgreSQL, never inside quoted text", arguments: [
        ("SELECT a FROM t WHERE x = ?1 AND y = ?12", "SELECT a FROM t WHERE x = $1 AND y = $12"),
        ("SELECT '?1', \"a?2\" FROM t WHERE z = ?3", "SELECT '?1', \"a?2\" FROM t WHERE z = $3"),
        ("SELECT 'it''s ?1' WHERE a = ?2", "SELECT 'it''s ?1' WHERE a = $2"),
        ("SELECT ? WHERE ?x", "SELECT ? WHERE ?x"),
    ])
    func placeholders(sqlite: String, postgres: String) {
        #expect(PostgresStore.postgresPlaceholders(sqlite) == postgres)
    }
}
