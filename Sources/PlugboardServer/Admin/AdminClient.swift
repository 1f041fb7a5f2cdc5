import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import PlugboardJSON

/// The CLI's side of the admin socket (`plugboard reload`, `status`): HTTP over the Unix socket
/// with AsyncHTTPClient.
public enum AdminClient {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Asks the server to reload; the outcome, applied or refused.
    public static func reload(socket: String) async throws -> JSONValue {
        try await call(socket: socket, method: .POST, path: "/reload")
    }

    /// What the server serves now and how its last reload went.
    public static func status(socket: String) async throws -> JSONValue {
        try await call(socket: socket, method: .GET, path: "/status")
    }

    /// Sends `method path` and returns the JSON answer, whatever its status (a refused reload is a
    /// 422 that carries the outcome).
    static func call(socket: String, method: HTTPMethod, path: String, timeout: TimeAmount = .seconds(120)) async throws -> JSONValue {
        guard let url = URL(httpURLWithSocketPath: socket, uri: path) else { throw Failure(description: "the admin socket path \(socket) cannot be used") }
        let client = HTTPClient(eventLoopGroupProvider: .shared(MultiThreadedEventLoopGroup.singleton))
        do {
            var request = HTTPClientRequest(url: url.absoluteString)
            request.method = method
            let response = try await client.execute(request, timeout: timeout)
            let body = try await response.body.collect(upTo: 16 * 1_048_576)
            try await client.shutdown()
            do {
                return try JSONValue(parsing: Array(buffer: body))
            } catch {
                throw Failure(description: "unreadable answer from the server (HTTP \(response.status.code)): \(error)")
            }
        } catch let failure as Failure {
            throw failure
        } catch {
            try? await client.shutdown()
            throw Failure(description: "cannot reach the server at \(socket): \(error) (is `plugboard serve` running with this config?)")
        }
    }
}
