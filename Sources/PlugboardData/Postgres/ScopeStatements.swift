import PostgresNIO
import Synchronization

/// The statements every scoped call runs around the plugin's (BEGIN, the scope set-up, the end),
/// prepared once per pooled connection, and which plugin reads the connection has prepared: unprepared, each would cost the server a parse and a plan
/// and both sides two more messages, on every call. They are prepared through PostgresNIO's
/// future-returning API so that they still go out back to back with the plugin's statement,
/// without waking the calling task in between.
final class ScopeStatements: Sendable {
    struct Prepared: Sendable {
        let begin: PreparedQuery
        let beginReadOnly: PreparedQuery
        /// Sets the owner, the statement timeout and the plugin's role, transaction-locally.
        let scope: PreparedQuery
        let commit: PreparedQuery
        let rollback: PreparedQuery
        /// Forgets the sequence values a write's nextval() left in the session (what currval and
        /// lastval would answer), before the connection serves another call.
        let discardSequences: PreparedQuery
        /// The plugin reads prepared on this connection.
        let reads = ProvenReads()

        /// BEGIN and the scope set-up for a call; the caller ends the transaction.
        func start(writes: Bool, owner: String, timeoutMilliseconds: Int, role: String) -> [EventLoopFuture<[PostgresRow]>] {
            [
                (writes ? begin : beginReadOnly).execute(),
                scope.execute([PostgresData(string: owner), PostgresData(string: String(timeoutMilliseconds)), PostgresData(string: role)]),
            ]
        }
    }

    private static let texts = [
        "BEGIN", "BEGIN READ ONLY",
        "SELECT set_config('plugboard.owner', $1, true), set_config('statement_timeout', $2, true), set_config('role', $3, true)",
        "COMMIT", "ROLLBACK", "DISCARD SEQUENCES",
    ]

    private let byConnection = Mutex<[PostgresConnection.ID: Prepared]>([:])

    /// Prepares the statements again on the connection's next call: a set-up statement failed,
    /// and the server may have lost them (a pooler in between, `DISCARD ALL`).
    func forget(_ connection: PostgresConnection) {
        _ = byConnection.withLock { $0.removeValue(forKey: connection.id) }
    }

    func prepared(on connection: PostgresConnection) async throws -> Prepared {
        if let prepared = byConnection.withLock({ $0[connection.id] }) { return prepared }
        let preparing = Self.texts.map { connection.prepare(query: $0) }
        var queries: [PreparedQuery] = []
        for statement in preparing { queries.append(try await statement.get()) }
        let prepared = Prepared(begin: queries[0], beginReadOnly: queries[1], scope: queries[2], commit: queries[3], rollback: queries[4], discardSequences: queries[5])
        let id = connection.id
        byConnection.withLock { $0[id] = prepared }
        connection.closeFuture.whenComplete { _ in self.byConnection.withLock { _ = $0.removeValue(forKey: id) } }
        return prepared
    }
}
