import PostgresNIO
import Synchronization

/// Which plugin reads run as named prepared statements, and under which names.
///
/// Planning is most of what PostgreSQL spends on a short read, and a plugin sends the same few
/// statements over and over, so repeated reads are prepared once per connection and then only
/// bound and executed. What keeps that safe and bounded:
/// - a statement is prepared only after it succeeded unprepared twice with the same parameter
///   types: text that does not parse, or is sent once, never becomes a named statement;
/// - PostgresNIO remembers a failed preparation for the life of the connection, so a name that
///   fails on a connection where it never succeeded is retired (names are never reused), and so
///   is one PostgreSQL no longer accepts (see `PostgresScopedData.read`); the statement earns a
///   new one by succeeding again, at most `maximumRetirements` times;
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
        var retirements: [Key: Int] = [:]
        var issued = 0
        var warnedFull = false
    }

    static let successesBeforePreparing = 2
    static let maximumRetirements = 8
    static let maximumLength = 8 * 1024
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
            // Long texts stay unprepared: up to `capacity * 8` of them are remembered while counting.
            guard key.sql.utf8.count <= Self.maximumLength, state.names[key] == nil, state.retirements[key, default: 0] < Self.maximumRetirements
            else { return false }
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

    /// Stops using `name` for `key` (a later name the key earned meanwhile stays).
    func retire(_ key: Key, name: String) {
        state.withLock { state in
            guard state.names[key] == name else { return }
            state.names[key] = nil
            if state.retirements.count >= capacity * 8 { state.retirements.removeAll(keepingCapacity: true) }
            state.retirements[key, default: 0] += 1
        }
    }

    /// How many reads run prepared.
    var count: Int { state.withLock { $0.names.count } }
}

/// The prepared reads that have run successfully on one connection: a failure of any other may
/// be a failed preparation, which PostgresNIO would answer on that connection from then on.
final class ProvenReads: Sendable {
    private let names = Mutex<Set<String>>([])

    func contains(_ name: String) -> Bool { names.withLock { $0.contains(name) } }
    func insert(_ name: String) { _ = names.withLock { $0.insert(name) } }
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
