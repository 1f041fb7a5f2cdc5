import Hummingbird
import NIOCore
import PlugboardMCP

/// Adapts Hummingbird requests to the framework-neutral MCP transport and back, after the
/// resource server has established who is calling.
struct MCPEndpoint: Sendable {
    /// Who a request runs for.
    enum Access: Sendable {
        /// Authentication off (loopback development): everyone is this caller.
        case local(MCPCaller)
        /// OAuth: the caller comes from the verified bearer token.
        case bearer(ResourceGate)
    }

    let transport: StreamableHTTPTransport
    let access: Access
    /// Counts authentication outcomes when metrics are on.
    var metrics: PlugboardMetrics?

    func respond(to request: Request, context: PlugboardRequestContext) async -> Response {
        let response = await answer(request, context: context)
        // Refusals before JSON-RPC (400, 401, 403, 406, 413, 415, 421 …) show only here.
        metrics?.httpResponses(String(response.status.code)).increment()
        return response
    }

    private func answer(_ request: Request, context: PlugboardRequestContext) async -> Response {
        let caller: MCPCaller
        switch access {
        case .local(let local):
            caller = local
        case .bearer(let gate):
            // A foreign page or Host name gets its 403/421 before any challenge (the transport
            // checks again for itself).
            if let refusal = transport.refusal(authority: request.head.authority, headers: request.headers) {
                return Self.response(refusal)
            }
            switch await gate.authenticate(request, context: context) {
            case .caller(let verified): caller = verified
            case .refused(let response):
                metrics?.authOutcomes(Self.authOutcome(response.status, request: request)).increment()
                return response
            }
        }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: transport.maxBodyBytes)
        } catch {
            return Self.response(transport.payloadTooLarge())
        }
        let bytes = Array(buffer: body)
        if case .bearer(let gate) = access {
            if let refusal = gate.insufficientScope(bytes, request: request, context: context, caller: caller) {
                metrics?.authOutcomes("insufficient_scope").increment()
                return refusal
            }
            metrics?.authOutcomes("ok").increment()
        }
        let exchange = MCPHTTPRequest(method: request.method, authority: request.head.authority, headerFields: request.headers, body: bytes)
        return Self.response(await transport.handle(exchange, caller: caller))
    }

    /// The metric label of a refusal by `ResourceGate.authenticate`, from its status.
    private static func authOutcome(_ status: HTTPResponse.Status, request: Request) -> String {
        switch status {
        case .unauthorized: request.headers[.authorization] == nil ? "missing_token" : "invalid_token"
        case .forbidden: "missing_mcp_scope"
        case .badRequest: "invalid_request"
        case .serviceUnavailable: "unavailable"
        default: "refused"
        }
    }

    static func response(_ response: MCPHTTPResponse) -> Response {
        switch response {
        case .complete(let status, let headers, let body):
            return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
        case .stream(let status, let headers, let events, let clientGone):
            return Response(
                status: status, headers: headers,
                body: ResponseBody { writer in
                    do {
                        for await event in events {
                            try await writer.write(ByteBuffer(bytes: event))
                        }
                        try await writer.finish(nil)
                    } catch {
                        clientGone()
                        throw error
                    }
                })
        }
    }
}
