import Hummingbird
import NIOCore
import PlugboardMCP

/// Adapts Hummingbird requests to the framework-neutral MCP transport and back.
struct MCPEndpoint: Sendable {
    let transport: StreamableHTTPTransport
    let caller: MCPCaller

    func respond(to request: Request, context: some RequestContext) async -> Response {
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: transport.maxBodyBytes)
        } catch {
            return Self.response(transport.payloadTooLarge())
        }
        let exchange = MCPHTTPRequest(
            method: request.method, authority: request.head.authority, headerFields: request.headers,
            body: Array(buffer: body))
        return Self.response(await transport.handle(exchange, caller: caller))
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
