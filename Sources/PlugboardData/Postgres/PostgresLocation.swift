import Foundation
import NIOPosix
import NIOSSL
import PostgresNIO

/// A `postgres://user:password@host:port/database?sslmode=disable|require&host=/socket/dir` URL.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    public var user: String
    public var password: String?
    public var host: String
    public var port: Int
    public var database: String
    /// A Unix socket directory (the `host` query parameter), instead of TCP.
    public var socketDirectory: String?
    public var requireTLS: Bool

    public init(url text: String) throws(PostgresURLError) {
        guard let components = URLComponents(string: text), ["postgres", "postgresql"].contains(components.scheme ?? "") else {
            throw PostgresURLError(url: text, reason: "expected postgres://user:password@host:port/database")
        }
        guard let user = components.user, !user.isEmpty else { throw PostgresURLError(url: text, reason: "the URL names no user") }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty else { throw PostgresURLError(url: text, reason: "the URL names no database") }
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { _, last in last })
        self.user = user
        self.password = components.password
        self.host = components.host ?? "localhost"
        self.port = components.port ?? 5432
        self.database = database
        self.socketDirectory = query["host"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        switch query["sslmode"] ?? "disable" {
        case "disable", "prefer", "allow": requireTLS = false
        case "require", "verify-full": requireTLS = true
        case let mode: throw PostgresURLError(url: text, reason: "sslmode '\(mode)' is not supported (disable or require)")
        }
    }

    /// The URL without its password, for messages.
    public var description: String {
        "postgres://\(user)@\(socketDirectory.map { "[\($0)]" } ?? "\(host):\(port)")/\(database)"
    }

    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        var configuration =
            if let socketDirectory {
                PostgresConnection.Configuration(unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: user, password: password, database: database)
            } else {
                PostgresConnection.Configuration(
                    host: host, port: port, username: user, password: password, database: database,
                    tls: requireTLS ? .require(try NIOSSLContext(configuration: .makeClientConfiguration())) : .disable)
            }
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }

    func clientConfiguration(maximumConnections: Int? = nil) throws -> PostgresClient.Configuration {
        var configuration =
            if let socketDirectory {
                PostgresClient.Configuration(
                    unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: user, password: password, database: database)
            } else {
                PostgresClient.Configuration(
                    host: host, port: port, username: user, password: password, database: database,
                    tls: requireTLS ? .require(.makeClientConfiguration()) : .disable)
            }
        // No keep-alive queries: the pool closes a connection after a minute idle anyway, and
        // keep-alive costs a timer (a task, a task group and a dispatch timer held until its
        // deadline even when cancelled) each time a connection goes back to the pool, i.e. on
        // every plugin query, next to the idle timer the pool schedules then too.
        configuration.options.keepAliveBehavior = nil
        if let maximumConnections { configuration.options.maximumConnections = maximumConnections }
        return configuration
    }
}

public struct PostgresURLError: Error, Sendable, CustomStringConvertible {
    public let url: String
    public let reason: String
    public var description: String { "invalid PostgreSQL URL: \(reason)" }
}

/// A connection pool that runs while the host does.
final class PostgresPool: Sendable {
    let client: PostgresClient
    let location: PostgresLocation
    private let runner: Task<Void, Never>

    init(_ location: PostgresLocation, maximumConnections: Int? = nil, logger: Logger) throws {
        self.location = location
        let client = PostgresClient(configuration: try location.clientConfiguration(maximumConnections: maximumConnections), backgroundLogger: logger)
        self.client = client
        self.runner = Task { await client.run() }
    }

    /// Connects once, outside the pool: the pool retries a refused login with backoff for a
    /// minute before it gives up with a generic error, while this fails in seconds with the cause.
    func probe(logger: Logger) async throws {
        do {
            let connection = try await PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.any(), configuration: try location.connectionConfiguration(), id: 0, logger: logger)
            try await connection.close()
        } catch {
            throw StoreError("cannot connect to \(location): \(PostgresErrorText.describe(error))")
        }
    }

    deinit {
        runner.cancel()
    }
}
