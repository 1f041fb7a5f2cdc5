#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import PlugboardJSON

/// One call in progress: who it runs for, and the host services it may use.
public struct CallContext: Sendable {
    /// The host's id for this call, unique within the host process.
    public let id: UInt64
    let host: HostAPI

    init(id: UInt64, host: HostAPI) {
        self.id = id
        self.host = host
    }

    /// The authenticated user this call runs for. Every scoped query is limited to their rows.
    public var owner: String { host.owner(of: id) }

    /// True once the client cancelled the call or its timeout expired.
    public var isCancelled: Bool { Task.isCancelled || host.isCancelled(id) }

    /// Reports progress to the client, if it asked for progress. `completed` must increase from
    /// one report to the next.
    public func progress(_ completed: Double, total: Double? = nil, message: String? = nil) {
        host.progress(id, completed: completed, total: total, message: message)
    }

    /// Writes to the host's log, attributed to this plugin and call.
    public func log(_ level: LogLevel, _ message: String) {
        host.log(id, level: level, message: message)
    }

    /// Runs a read (or, for tools that declare `writes: true`, a write) scoped to the call's
    /// owner. Parameters are positional (`$1`, `$2`, ...).
    public func query(_ sql: String, _ parameters: [QueryValue] = []) async throws -> QueryResult {
        // PlugboardJSON rather than Codable: decoding rows of untyped values through JSONDecoder
        // costs more CPU than the database round trips it waits for.
        let request: JSONValue = ["sql": .string(sql), "params": .array(parameters.map(\.json))]
        let reply = await host.query(id, request: request.jsonBytes)
        guard reply.status == PB_OK else {
            throw QueryError(status: reply.status, message: String(decoding: reply.bytes, as: UTF8.self))
        }
        return try QueryResult(json: JSONValue(parsing: reply.bytes))
    }
}

/// Severity of a plugin log line.
public enum LogLevel: Int32, Sendable {
    case debug = 0
    case info = 1
    case warning = 2
    case error = 3
}
