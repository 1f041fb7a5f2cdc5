// The benchmark's baseline: a bare Hummingbird route that does the JSON-RPC work any MCP server
// must do for `tools/call` - decode the request body, encode a result - and nothing else: no
// protocol checks, no plugin, no validation. Plugboard's overhead is measured against it.
import Foundation
import Hummingbird

// Each baseline is a self-contained program with no module of its own to share: its JSON-RPC
// types are written out here, as a hand-written server would have them.
struct CallRequest: Decodable {
    struct Params: Decodable {
        let name: String
        let arguments: [String: String]
    }

    let jsonrpc: String
    let id: Int
    let method: String
    let params: Params
}

struct CallResponse: Encodable {
    struct Content: Encodable {
        let type: String
        let text: String
    }

    struct Result: Encodable {
        let content: [Content]
    }

    let jsonrpc: String
    let id: Int
    let result: Result
}

let port = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 8091
let router = Router()
router.post("/mcp") { request, context -> Response in
    let body = try await request.body.collect(upTo: 1 << 20)
    let call = try JSONDecoder().decode(CallRequest.self, from: Data(buffer: body))
    let answer = CallResponse(
        jsonrpc: "2.0", id: call.id, result: .init(content: [.init(type: "text", text: call.params.arguments["text"] ?? "")]))
    let bytes = try JSONEncoder().encode(answer)
    return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
}
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await app.runService()
