import CPlugboard
import Synchronization

/// Runs plugins' scoped queries: the data layer implements it, for SQLite or PostgreSQL.
public protocol DataService: Sendable {
    /// Readies the tables the plugins of a generation declare (checks they exist, builds what
    /// scoping needs). Returns, per plugin, why it cannot be served; those plugins are refused.
    func prepare(_ declarations: [PluginTables]) async -> [String: String]

    /// Runs one statement for `owner`, within what `scope` allows.
    /// - Returns: an ABI status with its bytes (rows as JSON, or an error message), and the
    ///   number of rows returned.
    func query(_ request: [UInt8], scope: QueryScope, owner: String) async -> QueryReply
}

/// The tables one plugin declares in its manifest.
public struct PluginTables: Sendable, Equatable {
    public var plugin: String
    public var manifest: String
    public var tables: [TableDeclaration]
    /// True when one of the plugin's tools declares `writes: true`.
    public var writes: Bool

    public init(plugin: String, manifest: String, tables: [TableDeclaration], writes: Bool) {
        self.plugin = plugin
        self.manifest = manifest
        self.tables = tables
        self.writes = writes
    }
}

/// A table a plugin may query through the host.
public struct TableDeclaration: Sendable, Equatable {
    public var name: String
    /// The column holding the owner of each row; nil for shared tables.
    public var ownerColumn: String?
    public var shared: Bool

    public init(name: String, ownerColumn: String?, shared: Bool) {
        self.name = name
        self.ownerColumn = ownerColumn
        self.shared = shared
    }
}

/// What one plugin call may do with the database.
public struct QueryScope: Sendable, Equatable {
    public var plugin: String
    /// True only for tools that declare `writes: true`.
    public var writes: Bool
    /// Rows returned per query at most (the tool's `limits.max_rows`).
    public var maxRows: Int
    /// The time a query may take (the tool's `limits.timeout_ms`).
    public var timeout: Duration
    /// How much of a result the host reads before refusing it (the tool's `limits.max_result_chars`,
    /// never more than `hostResultBytes`): counted while rows arrive, so a huge result is never held.
    public var maxResultBytes: Int

    /// The most any statement's result may take, whatever a manifest declares.
    public static let hostResultBytes = 8 * 1024 * 1024

    public init(plugin: String, writes: Bool, maxRows: Int, timeout: Duration, maxResultBytes: Int = hostResultBytes) {
        self.plugin = plugin
        self.writes = writes
        self.maxRows = maxRows
        self.timeout = timeout
        self.maxResultBytes = min(maxResultBytes, Self.hostResultBytes)
    }
}

/// The answer to a scoped query.
public struct QueryReply: Sendable {
    public var status: Int32
    public var bytes: [UInt8]
    public var rows: Int

    public init(status: Int32, bytes: [UInt8], rows: Int = 0) {
        self.status = status
        self.bytes = bytes
        self.rows = rows
    }

    public static func failure(_ status: Int32, _ message: String) -> QueryReply {
        QueryReply(status: status, bytes: Array(message.utf8))
    }
}

/// Counts what one call read through the host, for the audit log.
public final class CallMeter: Sendable {
    private let counted = Atomic<Int>(0)

    public init() {}

    public var rows: Int { counted.load(ordering: .relaxed) }

    package func add(rows: Int) {
        counted.add(rows, ordering: .relaxed)
    }
}

/// The data service of a host with no database configured.
public struct NoDatabase: DataService {
    public init() {}

    public func prepare(_ declarations: [PluginTables]) async -> [String: String] {
        [:]
    }

    public func query(_ request: [UInt8], scope: QueryScope, owner: String) async -> QueryReply {
        .failure(PB_UNAVAILABLE, "scoped queries are unavailable: this host has no database configured")
    }
}
