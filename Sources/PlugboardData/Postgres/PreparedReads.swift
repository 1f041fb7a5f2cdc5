import PostgresNIO
import Synchronization

/// Which plugin reads run as named prepared statements, and under which names.
///
/// Planning is most of what PostgreSQL spends on a short read, and a plugin sends the same few
/// statements over and over, so repeated reads are prepared once per connection and then only
/// bound and executed. Three rules keep that safe and bounded:
/// - a statement is prepared only after it succeeded unprepared twice with the same parameter
///   types: text that does not parse, or is sent once, never becomes a named statement;
/// - PostgresNIO remembers a failed preparation for the life of the connection, so an error that
///   may come from preparing (anything but bad values, constraints and timeouts) retires the name;
///   the statement earns a new one by succeeding again;
/// - at most `capacity` names exist, since every connection may end up holding all of them.
final class PreparedReads: Sendable {
    struct Key: Hashable, Sendable {
        let plugin: String
        let sql: String
        let types: [PostgresDataType]
    }

    private struct State {
        var names: [Key: String] = [:]
        var successes: [Key: Int] = [:]
        var issued = 0
        var warnedFull = false
    }

    static let successesBeforePreparing = 2
    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int = 128) {
        self.capacity = capacity
    }

    /// The name to execute `key` under, or nil to send it unprepared.
    func name(for key: Key) -> String? {
        state.withLock { $0.names[key] }
    }

    /// Counts an unprepared success; returns true when the cache has just filled up.
    func succeeded(_ key: Key) -> Bool {
        state.withLock { state in
            guard state.names[key] == nil else { return false }
            guard state.names.count < capacity else {
                defer { state.warnedFull = true }
                return !state.warnedFull
            }
            let count = state.successes[key, default: 0] + 1
            guard count >= Self.successesBeforePreparing else {
                // Statements seen once are forgotten wholesale rather than one by one.
                if state.successes.count >= capacity * 8 { state.successes.removeAll(keepingCapacity: true) }
                state.successes[key] = count
                return false
            }
            state.successes[key] = nil
            state.issued += 1
            state.names[key] = "pb_read_\(state.issued)"
            return false
        }
    }

    /// Retires the name of `key` unless the error (its SQLSTATE, nil when not from the server) is
    /// one executing, not preparing, raises; returns whether it did.
    func failed(_ key: Key, sqlState: String?) -> Bool {
        if let sqlState, Self.isExecutionError(sqlState) { return false }
        return state.withLock { $0.names.removeValue(forKey: key) != nil }
    }

    /// How many reads run prepared.
    var count: Int { state.withLock { $0.names.count } }

    /// Data exceptions (bad parameter values), integrity violations, cancellation (the statement
    /// timeout) and exhausted resources: none of them can come from parsing the statement.
    static func isExecutionError(_ sqlState: String) -> Bool {
        ["22", "23", "53", "54"].contains(sqlState.prefix(2)) || sqlState == "57014"
    }
}

/// A prepared read that failed for a reason preparing may cause (its table changed shape, say):
/// its name is retired, and the call runs once more unprepared.
struct RetiredRead: Error {
    let underlying: any Error
}

/// A plugin's read as a PostgresNIO prepared statement. PostgresNIO takes a prepared statement's
/// name, SQL and parameter types from static members (one Swift type per statement); a plugin's
/// SQL is only known at run time, so the statics read the statement bound to the calling task
/// around `execute`, which reads them within the call.
struct PluginRead: PostgresPreparedStatement {
    struct Text: Sendable {
        let name: String
        let sql: String
        let types: [PostgresDataType]
    }

    @TaskLocal static var text = Text(name: "", sql: "", types: [])
    static var name: String { text.name }
    static var sql: String { text.sql }
    static var bindingDataTypes: [PostgresDataType] { text.types }

    let bindings: PostgresBindings

    func makeBindings() -> PostgresBindings { bindings }
    func decodeRow(_ row: PostgresRow) -> PostgresRow { row }
}
