import HTTPTypes
import Logging
import PlugboardJSON
@testable import PlugboardMCP
import Testing

/// JSON-RPC and Streamable HTTP rules, exercised on the framework-neutral transport.
@Suite("Streamable HTTP transport")
struct TransportTests {
    /// A catalog with one tool, for protocol tests that need no plugin.
    struct StubCatalog: MCPCatalog, MCPCatalogSource {
        var revision: UInt64 { 1 }
        func leaseCatalog() -> MCPCatalogLease { MCPCatalogLease(catalog: self) }
        func tools(for caller: MCPCaller) -> [JSONValue] {
            (1...5).map { ["name": .string("tool\($0)"), "description": "d", "inputSchema": ["type": "object"]] }
        }
        func resources(for caller: MCPCaller) -> [JSONValue] { [] }
        func resourceTemplates(for caller: MCPCaller) -> [JSONValue] { [] }
        func prompts(for caller: MCPCaller) -> [JSONValue] { [] }
        func callTool(_ name: String, arguments: JSONObject, context: MCPCallContext) async throws(MCPError) -> JSONValue {
            ["content": [["type": "text", "text": .string("\(name) for \(context.caller.owner)")]]]
        }
        func readResource(_ uri: String, context: MCPCallContext) async throws(MCPError) -> JSONValue {
            throw MCPError(.resourceNotFound, "Resource not found: \(uri)", data: ["uri": .string(uri)])
        }
        func getPrompt(_ name: String, arguments: [String: String], context: MCPCallContext) async throws(MCPError) -> JSONValue {
            throw MCPError(.invalidParams, "Unknown prompt '\(name)'")
        }
        func complete(_ reference: CompletionReference, argument: String, prefix: String, caller: MCPCaller) throws(MCPError) -> [String] { [] }
    }

    let transport = StreamableHTTPTransport(
        server: MCPServer(description: ServerDescription(name: "t", version: "1"), catalogs: StubCatalog(), pageSize: 2, logger: Logger(label: "t")),
        policy: HTTPRequestPolicy(allowedHosts: HTTPRequestPolicy.loopbackHosts), maxBodyBytes: 1_000, logger: Logger(label: "t"))

    static let modernMeta = #""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}"#

    func post(_ body: String, headers: HTTPFields = [:], method: HTTPRequest.Method = .post, host: String = "127.0.0.1:8080") async -> (Int, JSONValue?) {
        var fields: HTTPFields = [.contentType: "application/json", .accept: "application/json, text/event-stream"]
        for field in headers { fields[field.name] = field.value }
        let response = await transport.handle(MCPHTTPRequest(method: method, authority: host, headerFields: fields, body: Array(body.utf8)), caller: MCPCaller(owner: "alice"))
        guard case .complete(let status, _, let bytes) = response else { return (response.status.code, nil) }
        return (status.code, bytes.isEmpty ? nil : try? JSONValue(parsing: bytes))
    }

    @Test("initialize negotiates a supported version, or offers the newest")
    func initialize() async {
        let (status, body) = await post(#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}"#)
        #expect(status == 200)
        #expect(body?["result"]?["protocolVersion"] == "2025-06-18")
        #expect(body?["result"]?["capabilities"]?["tools"] != nil)
        let (_, newer) = await post(#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2099-01-01"}}"#)
        #expect(newer?["result"]?["protocolVersion"] == "2025-11-25")
    }

    @Test("any request works without a session")
    func stateless() async {
        let (status, body) = await post(#"{"jsonrpc":"2.0","id":"x","method":"tools/call","params":{"name":"a"}}"#, headers: [HTTPField.Name("Mcp-Session-Id")!: "stale"])
        #expect(status == 200)
        #expect(body?["id"] == "x")
        #expect(body?["result"]?["content"]?.arrayValue?.first?["text"] == "a for alice")
    }

    @Test("JSON-RPC envelopes that are not requests get 400 and the right code", arguments: [
        ("{", -32700),
        ("[]", -32600),
        (#"{"id":1,"method":"ping"}"#, -32600),
        (#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#, -32600),
        (#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#, -32600),
        (#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#, -32600),
        (#"{"jsonrpc":"2.0","id":1,"method":""}"#, -32600),
        (#"{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}"#, -32600),
        (#"{"jsonrpc":"2.0"}"#, -32600),
    ])
    func malformed(body: String, code: Int) async {
        let (status, response) = await post(body)
        #expect(status == 400)
        #expect(response?["error"]?["code"] == .int(Int64(code)))
    }

    @Test("notifications and responses are accepted with 202 and no body")
    func accepted() async {
        #expect(await post(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).0 == 202)
        #expect(await post(#"{"jsonrpc":"2.0","id":5,"result":{}}"#).0 == 202)
    }

    @Test("an unsupported protocol version header is refused with the supported list")
    func unsupportedVersion() async {
        let (status, body) = await post(#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#, headers: [HTTPField.Name("MCP-Protocol-Version")!: "1999-01-01"])
        #expect(status == 400)
        #expect(body?["error"]?["code"] == -32022)
        #expect(body?["error"]?["data"]?["requested"] == "1999-01-01")
        #expect(body?["error"]?["data"]?["supported"]?.arrayValue?.contains("2026-07-28") == true)
    }

    @Test("2026-07-28 requests must repeat method and name in headers", arguments: [
        ([:], -32020),
        (["Mcp-Method": "tools/list"], -32020),
        (["Mcp-Method": "tools/call"], -32020),
        (["Mcp-Method": "tools/call", "Mcp-Name": "other"], -32020),
        (["Mcp-Method": "tools/call", "Mcp-Name": "=?base64?bm90IGl0?="], -32020),
    ])
    func modernHeaders(extra: [String: String], code: Int) async {
        var headers: HTTPFields = [HTTPField.Name("MCP-Protocol-Version")!: "2026-07-28"]
        for (name, value) in extra { headers[HTTPField.Name(name)!] = value }
        let (status, body) = await post(#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a",\#(Self.modernMeta)}}"#, headers: headers)
        #expect(status == 400)
        #expect(body?["error"]?["code"] == .int(Int64(code)))
    }

    @Test("header values in =?base64?...?= decode strictly (RFC 4648): padding only at the end", arguments: [
        ("=?base64?w7FhbmTDug==?=", "ñandú"), ("=?base64?YQ==?=", "a"), ("plain-ascii", "plain-ascii"),
        ("=?base64?w7Fh=bmTDug==?=", nil), ("=?base64?YQ=?=", nil), ("=?base64?YQ==YQ==?=", nil), ("=?base64?Y!==?=", nil), ("=?base64?/w==?=", nil),
    ])
    func strictHeaderBase64(value: String, decoded: String?) {
        #expect(StreamableHTTPTransport.decodeHeaderValue(value) == decoded)
    }

    @Test("2026-07-28 accepts a base64 Mcp-Name and decorates results")
    func modernCall() async {
        let headers: HTTPFields = [
            HTTPField.Name("MCP-Protocol-Version")!: "2026-07-28", HTTPField.Name("Mcp-Method")!: "tools/call",
            HTTPField.Name("Mcp-Name")!: "=?base64?w7FhbmTDug==?=",
        ]
        let (status, body) = await post(#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ñandú",\#(Self.modernMeta)}}"#, headers: headers)
        #expect(status == 200)
        #expect(body?["result"]?["resultType"] == "complete")
        #expect(body?["result"]?["_meta"]?["io.modelcontextprotocol/serverInfo"]?["name"] == "t")
    }

    @Test("2026-07-28 requests without _meta are invalid params")
    func modernMissingMeta() async {
        let headers: HTTPFields = [HTTPField.Name("MCP-Protocol-Version")!: "2026-07-28", HTTPField.Name("Mcp-Method")!: "tools/list"]
        let (status, body) = await post(#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#, headers: headers)
        #expect(status == 400)
        #expect(body?["error"]?["code"] == -32602)
    }

    @Test("2026-07-28: unknown method is 404, missing resource is -32602 with the uri, lists carry cache hints")
    func modernErrorsAndHints() async {
        func modern(_ method: String, _ params: String = "") -> HTTPFields {
            [HTTPField.Name("MCP-Protocol-Version")!: "2026-07-28", HTTPField.Name("Mcp-Method")!: method]
        }
        let (notFound, unknown) = await post(#"{"jsonrpc":"2.0","id":1,"method":"nope/nope","params":{\#(Self.modernMeta)}}"#, headers: modern("nope/nope"))
        #expect(notFound == 404)
        #expect(unknown?["error"]?["code"] == -32601)
        var headers = modern("resources/read")
        headers[HTTPField.Name("Mcp-Name")!] = "x://1"
        let (badRequest, missing) = await post(#"{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"x://1",\#(Self.modernMeta)}}"#, headers: headers)
        #expect(badRequest == 400)
        #expect(missing?["error"]?["code"] == -32602)
        #expect(missing?["error"]?["data"]?["uri"] == "x://1")
        let (_, list) = await post(#"{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{\#(Self.modernMeta)}}"#, headers: modern("tools/list"))
        #expect(list?["result"]?["ttlMs"]?.integerValue != nil)
        #expect(list?["result"]?["cacheScope"] == "private")
    }

    @Test("legacy: unknown method is a JSON-RPC error, missing resource is -32002")
    func legacyErrors() async {
        let (status, body) = await post(#"{"jsonrpc":"2.0","id":1,"method":"nope/nope"}"#)
        #expect(status == 200)
        #expect(body?["error"]?["code"] == -32601)
        let (_, missing) = await post(#"{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"x://1"}}"#)
        #expect(missing?["error"]?["code"] == -32002)
    }

    @Test("lists page through opaque cursors; a forged cursor is invalid params")
    func pagination() async {
        var names: [String] = []
        var cursor: String?
        repeat {
            let params = cursor.map { #","params":{"cursor":"\#($0)"}"# } ?? ""
            let (_, body) = await post(#"{"jsonrpc":"2.0","id":1,"method":"tools/list"\#(params)}"#)
            names += body?["result"]?["tools"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
            cursor = body?["result"]?["nextCursor"]?.stringValue
        } while cursor != nil && names.count < 10
        #expect(names == ["tool1", "tool2", "tool3", "tool4", "tool5"])
        let (_, forged) = await post(#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"999"}}"#)
        #expect(forged?["error"]?["code"] == -32602)
    }

    @Test("HTTP-level refusals", arguments: [
        ("Origin", "http://evil.example.com", 403),
        ("Origin", "http://localhost:5173", 200),
        ("Accept", "text/html", 406),
        ("Content-Type", "text/plain", 415),
    ])
    func httpRefusals(header: String, value: String, status: Int) async {
        let (code, _) = await post(#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#, headers: [HTTPField.Name(header)!: value])
        #expect(code == status)
    }

    @Test("DNS rebinding: a loopback server refuses foreign Host names")
    func hostCheck() async {
        #expect(await post(#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#, host: "evil.example.com").0 == 421)
        #expect(await post(#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#, host: "localhost:8080").0 == 200)
        #expect(await post(#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#, host: "[::1]:8080").0 == 200)
    }

    @Test("DELETE and PUT are 405; GET opens the notification stream only for SSE and the handshake era")
    func methods() async {
        func send(_ method: HTTPRequest.Method, _ headers: HTTPFields) async -> MCPHTTPResponse {
            await transport.handle(MCPHTTPRequest(method: method, authority: "localhost", headerFields: headers, body: []), caller: MCPCaller(owner: "a"))
        }
        for method in [HTTPRequest.Method.delete, .put] {
            let response = await send(method, [:])
            guard case .complete(let status, let headers, _) = response else {
                Issue.record("expected a complete response")
                continue
            }
            #expect(status == .methodNotAllowed)
            #expect(headers[.allow] == "GET, POST")
        }
        #expect(await send(.get, [.accept: "application/json"]).status == .notAcceptable)
        #expect(await send(.get, [.accept: "text/event-stream", HTTPField.Name("MCP-Protocol-Version")!: "2026-07-28"]).status == .methodNotAllowed)
        guard case .stream(let status, _, _, let clientGone) = await send(.get, [.accept: "text/event-stream"]) else {
            Issue.record("expected a stream")
            return
        }
        #expect(status == .ok)
        clientGone()
    }

    @Test("a request with a progress token streams server-sent events")
    func streamsWithProgressToken() async {
        let fields: HTTPFields = [.contentType: "application/json", .accept: "application/json, text/event-stream"]
        let response = await transport.handle(
            MCPHTTPRequest(method: .post, authority: "localhost", headerFields: fields, body: Array(#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"a","_meta":{"progressToken":"t"}}}"#.utf8)),
            caller: MCPCaller(owner: "bob"))
        guard case .stream(let status, let headers, let events, _) = response else {
            Issue.record("expected a stream")
            return
        }
        #expect(status == .ok)
        #expect(headers[.contentType] == "text/event-stream")
        var received: [String] = []
        for await event in events { received.append(String(decoding: event, as: UTF8.self)) }
        #expect(received == [#"event: message"# + "\n" + #"data: {"jsonrpc":"2.0","id":9,"result":{"content":[{"type":"text","text":"a for bob"}]}}"# + "\n\n"])
    }
}
