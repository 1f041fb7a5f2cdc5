import HTTPTypes
import PlugboardJSON

/// The long-lived streams that tell clients a list changed: `GET /mcp` in the handshake era,
/// `subscriptions/listen` in 2026-07-28. Both stay open, with keep-alive comments, until the
/// client leaves or the server shuts down.
extension StreamableHTTPTransport {
    /// The handshake era's standalone stream. It carries only list-changed notifications.
    func standaloneStream(_ request: MCPHTTPRequest) -> MCPHTTPResponse {
        if request.headerFields[.mcpProtocolVersion] == ProtocolVersion.modern {
            return Self.methodNotAllowed("protocol version \(ProtocolVersion.modern) has no GET stream; use subscriptions/listen")
        }
        guard Accept(request.headerFields[.accept]).eventStream else {
            return Self.error(.notAcceptable, MCPError(.invalidRequest, "GET opens an event stream: Accept must allow text/event-stream"))
        }
        return listenStream(opening: nil) { changes in
            Self.notificationMethods(for: changes, filter: .all).map { JSONRPCEncoding.notification(method: $0, params: .object(JSONObject())) }
        }
    }

    /// `subscriptions/listen`: acknowledges the honoured filter, then tags each notification with
    /// the subscription id (the request id).
    func subscriptionStream(_ request: JSONRPCRequest, accept: Accept) -> MCPHTTPResponse {
        guard accept.eventStream else {
            return Self.error(.notAcceptable, MCPError(.invalidRequest, "subscriptions/listen answers with an event stream: Accept must allow text/event-stream"), id: request.id)
        }
        let requested = request.params["notifications"]?.objectValue ?? JSONObject()
        let filter = ListFilter(
            tools: requested["toolsListChanged"] == .bool(true),
            resources: requested["resourcesListChanged"] == .bool(true),
            prompts: requested["promptsListChanged"] == .bool(true))
        var honored = JSONObject()
        if filter.tools { honored["toolsListChanged"] = true }
        if filter.resources { honored["resourcesListChanged"] = true }
        if filter.prompts { honored["promptsListChanged"] = true }
        let subscription: JSONObject = ["io.modelcontextprotocol/subscriptionId": request.id.json]
        let acknowledgement = JSONRPCEncoding.notification(
            method: "notifications/subscriptions/acknowledged", params: ["_meta": .object(subscription), "notifications": .object(honored)])
        var closing = JSONObject()
        closing["resultType"] = "complete"
        var closingMeta = subscription
        closingMeta["io.modelcontextprotocol/serverInfo"] = server.description.implementation
        closing["_meta"] = .object(closingMeta)
        return listenStream(opening: acknowledgement, closing: JSONRPCEncoding.result(id: request.id, .object(closing))) { changes in
            Self.notificationMethods(for: changes, filter: filter).map {
                JSONRPCEncoding.notification(method: $0, params: ["_meta": .object(subscription)])
            }
        }
    }

    /// Which lists a listener asked about.
    struct ListFilter {
        var tools: Bool
        var resources: Bool
        var prompts: Bool
        static let all = ListFilter(tools: true, resources: true, prompts: true)
    }

    static func notificationMethods(for changes: ListChanges, filter: ListFilter) -> [String] {
        var methods: [String] = []
        if changes.tools && filter.tools { methods.append("notifications/tools/list_changed") }
        if changes.resources && filter.resources { methods.append("notifications/resources/list_changed") }
        if changes.prompts && filter.prompts { methods.append("notifications/prompts/list_changed") }
        return methods
    }

    /// An SSE stream fed by the server's list-change hub, with keep-alives.
    /// - Parameters:
    ///   - opening: a message sent first, if any.
    ///   - closing: a message sent when the server ends the stream (shutdown), if any.
    ///   - messages: the messages for one change.
    private func listenStream(
        opening: [UInt8]?, closing: [UInt8]? = nil, messages: @escaping @Sendable (ListChanges) -> [[UInt8]]
    ) -> MCPHTTPResponse {
        let hub = server.listChanges
        let keepAliveInterval = self.keepAliveInterval
        let (events, continuation) = AsyncStream.makeStream(of: [UInt8].self, bufferingPolicy: .bufferingNewest(64))
        let (id, changes) = hub.subscribe()
        if let opening { continuation.yield(SSE.message(opening)) }
        let keepAlive = Task {
            while (try? await Task.sleep(for: keepAliveInterval)) != nil {
                continuation.yield(SSE.keepAlive)
            }
        }
        let forwarder = Task {
            for await change in changes {
                for message in messages(change) { continuation.yield(SSE.message(message)) }
            }
            // The hub ended the stream: the server is shutting down, or the client left.
            keepAlive.cancel()
            if let closing { continuation.yield(SSE.message(closing)) }
            continuation.finish()
        }
        _ = forwarder
        var headers: HTTPFields = [:]
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache, no-transform"
        headers[.xAccelBuffering] = "no"
        return .stream(status: .ok, headerFields: headers, events: events, clientGone: { hub.unsubscribe(id) })
    }
}
