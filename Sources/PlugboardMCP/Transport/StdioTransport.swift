import Logging
import PlugboardJSON

/// MCP over standard input and output: one JSON-RPC message per line, for desktop clients that
/// start the server as a child process. Requests run concurrently; each answer is written as soon
/// as it is ready.
public struct StdioTransport: Sendable {
    public let server: MCPServer
    public let caller: MCPCaller
    private let logger: Logger

    public init(server: MCPServer, caller: MCPCaller, logger: Logger) {
        self.server = server
        self.caller = caller
        self.logger = logger
    }

    /// Serves `lines` until it ends, writing every outgoing message with `write` (one line each,
    /// without the newline). `write` must be safe to call from several tasks.
    public func run(lines: some AsyncSequence<String, Never>, write: @escaping @Sendable ([UInt8]) -> Void) async {
        let (listener, changes) = server.listChanges.subscribe()
        defer { server.listChanges.unsubscribe(listener) }
        let notifier = Task {
            for await change in changes {
                for method in StreamableHTTPTransport.notificationMethods(for: change, filter: .all) {
                    write(JSONRPCEncoding.notification(method: method, params: .object(JSONObject())))
                }
            }
        }
        defer { notifier.cancel() }
        await withTaskGroup(of: Void.self) { group in
            for await line in lines where !line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) {
                let message: JSONRPCMessage
                do {
                    message = try JSONRPCMessage(try JSONValue(parsing: line))
                } catch let error as MCPError {
                    write(JSONRPCEncoding.error(id: nil, error))
                    continue
                } catch {
                    write(JSONRPCEncoding.error(id: nil, MCPError(.parseError, "Parse error: \(error)")))
                    continue
                }
                switch message {
                case .response:
                    continue
                case .notification(let method, let params):
                    server.receive(notification: method, params: params, caller: caller)
                case .request(let request):
                    let era = StdioTransport.era(of: request)
                    group.addTask { [server, caller] in
                        var progress: ProgressSink?
                        if let token = request.meta?["progressToken"], token != .null {
                            progress = { update in write(ProgressNotification.encode(token: token, update)) }
                        }
                        switch await server.respond(to: request, era: era, caller: caller, progress: progress) {
                        case .success(let value): write(JSONRPCEncoding.result(id: request.id, value))
                        case .failure(let error) where error.code == .requestCancelled: break
                        case .failure(let error): write(JSONRPCEncoding.error(id: request.id, error))
                        }
                    }
                }
            }
            logger.info("stdin closed; waiting for requests in flight")
        }
    }

    /// Over stdio the era shows in the message itself: 2026-07-28 requests carry their version in
    /// `_meta`; everything else follows the handshake.
    static func era(of request: JSONRPCRequest) -> ProtocolEra {
        if request.meta?["io.modelcontextprotocol/protocolVersion"]?.stringValue == ProtocolVersion.modern {
            return .modern
        }
        return .legacy(version: ProtocolVersion.negotiate(request.params["protocolVersion"]?.stringValue))
    }
}
