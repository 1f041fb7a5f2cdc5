import CSQLite

/// How much memory SQLite may allocate for one plugin statement, compile and run together
/// (`CSQLite.h` says why this is counted per thread, not process-wide).
enum SQLiteMemoryBudget {
    /// Far above what an ordinary statement needs (SQLite keeps its page cache at 2 MiB per
    /// connection and spills sorts to temporary files); an expression bomb reaches it in well
    /// under a second.
    static let statementBytes: Int64 = 64 << 20

    static let exceeded =
        "the query needs more memory than SQLite may use for one statement (\(statementBytes >> 20) MiB); simplify it "
        + "(subqueries or CTEs that repeat an expression at every level multiply its size)"

    /// Whether SQLite's allocator is wrapped. Done on first use, before this process opens any
    /// SQLite connection (every one goes through `SQLiteConnection`).
    static let installed: Bool = plugboard_sqlite_budget_install() == SQLITE_OK

    /// Runs `body` with the statement budget open on this thread.
    static func applied<T, Failure: Error>(_ body: () throws(Failure) -> T) throws(Failure) -> T {
        plugboard_sqlite_budget_begin(statementBytes)
        defer { _ = plugboard_sqlite_budget_end() }
        return try body()
    }

    static func isExceeded(_ error: SQLiteError) -> Bool { error.code & 0xFF == SQLITE_NOMEM }
}
