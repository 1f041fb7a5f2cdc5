import PlugboardData
import PlugboardPlugins

/// A database the host connects to.
public enum DatabaseLocation: Sendable, Equatable {
    /// An embedded SQLite file.
    case sqlite(path: String)
    case postgres(PostgresLocation)
}

/// Where plugins' tables live and how scoped queries reach them.
public struct PluginDataConfiguration: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        case sqlite(path: String)
        /// `owner` owns the plugins' tables and sets up scoping; `query` is the restricted login
        /// plugin queries run as; `superuser` does the hardening only a superuser can (nil when a
        /// DBA runs that SQL).
        case postgres(owner: PostgresLocation, query: PostgresLocation, superuser: PostgresLocation?)
    }

    public var source: Source
    /// SQL run once into the data database (schema and demo data), remembered by its digest.
    public var seed: String?

    public var location: DatabaseLocation {
        switch source {
        case .sqlite(let path): .sqlite(path: path)
        case .postgres(let owner, _, _): .postgres(owner)
        }
    }
}

/// The `database:` section (host state, and plugin data too unless a `data:` section moves it).
enum DatabaseConfigurationReader {
    static let dataKeys = ["url", "query_url", "superuser_url", "seed"]

    static func read(
        database: YAMLNode?, data: YAMLNode?, stateDirectory: String, resolve: (String) -> String
    ) throws(YAMLProblem) -> (host: DatabaseLocation, data: PluginDataConfiguration) {
        let databaseKeys = try database?.mapping(allowed: data == nil ? dataKeys : ["url"]) ?? [:]
        let host = try databaseKeys["url"].map { node throws(YAMLProblem) in try location(node, resolve: resolve) }
            ?? .sqlite(path: "\(stateDirectory)/plugboard.db")
        guard let data else {
            return (host, try pluginData(databaseKeys, section: "database", location: host, resolve: resolve))
        }
        let keys = try data.mapping(allowed: dataKeys)
        guard let url = keys["url"] else { throw data.error("data.url is missing: name the database holding the plugins' tables") }
        return (host, try pluginData(keys, section: "data", location: try location(url, resolve: resolve), resolve: resolve))
    }

    private static func pluginData(
        _ keys: [String: YAMLNode], section: String, location: DatabaseLocation, resolve: (String) -> String
    ) throws(YAMLProblem) -> PluginDataConfiguration {
        let seed = try keys["seed"].map { node throws(YAMLProblem) in resolve(try node.string()) }
        switch location {
        case .sqlite(let path):
            if let node = keys["query_url"] ?? keys["superuser_url"] {
                throw node.error("query_url and superuser_url apply to PostgreSQL only, and \(section).url is SQLite")
            }
            return PluginDataConfiguration(source: .sqlite(path: path), seed: seed)
        case .postgres(let owner):
            guard let queryNode = keys["query_url"] else {
                let reason =
                    "with PostgreSQL, \(section).query_url must name the restricted login plugin queries run as (not the tables' owner), e.g. postgres://pb_query@host/\(owner.database)"
                throw keys["url"]?.error(reason) ?? YAMLProblem(file: "", line: nil, reason: reason)
            }
            let query = try postgres(queryNode)
            guard query.user != owner.user else {
                throw queryNode.error(
                    "\(section).query_url must log in as another user than \(section).url: the tables' owner sets scoping up, and must not run plugin queries")
            }
            let superuser = try keys["superuser_url"].map { node throws(YAMLProblem) in try postgres(node) }
            return PluginDataConfiguration(source: .postgres(owner: owner, query: query, superuser: superuser), seed: seed)
        }
    }

    private static func location(_ node: YAMLNode, resolve: (String) -> String) throws(YAMLProblem) -> DatabaseLocation {
        let url = try node.string()
        if url.hasPrefix("sqlite:") {
            // sqlite:relative/path, sqlite:/absolute/path or sqlite:///absolute/path
            var path = String(url.dropFirst("sqlite:".count))
            if path.hasPrefix("///") { path.removeFirst(2) }
            return .sqlite(path: resolve(path))
        }
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            return .postgres(try postgres(node))
        }
        throw node.error("expected sqlite:<path> or postgres://user@host:port/database")
    }

    private static func postgres(_ node: YAMLNode) throws(YAMLProblem) -> PostgresLocation {
        do {
            return try PostgresLocation(url: try node.string())
        } catch let error as PostgresURLError {
            throw node.error(error.description)
        } catch {
            throw node.error("\(error)")
        }
    }
}
