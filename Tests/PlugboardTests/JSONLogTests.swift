import Foundation
import Logging
import PlugboardJSON
import PlugboardMCP
import PlugboardServer
import Synchronization
import Testing

@Suite("logging.format: json", .removesTemporaryFolders)
struct JSONLogTests {
    @Test("a record is one line of JSON: timestamp, level, label, message, and metadata with numbers kept as numbers")
    func line() throws {
        let date = Date(timeIntervalSince1970: 1_796_245_200.123_9)  // 2026-12-02T21:00:00.123Z
        let metadata: Logger.Metadata = [
            "tool": "say", "duration_ms": .stringConvertible(1.5), "rows": .stringConvertible(3), "cached": .stringConvertible(true),
            "scopes": ["mcp", "notes:read"], "client": ["id": "abc"],
        ]
        let bytes = JSONLogHandler.line(at: date, level: .info, label: "plugboard", message: "a \"quoted\"\nmessage", metadata: metadata)
        #expect(bytes.last == UInt8(ascii: "\n"))
        #expect(bytes.filter { $0 == UInt8(ascii: "\n") }.count == 1, "a newline in the message must not split the record")
        let record = try JSONValue(parsing: Array(bytes.dropLast()))
        #expect(record["timestamp"] == "2026-12-02T21:00:00.123Z")
        #expect(record["level"] == "info")
        #expect(record["label"] == "plugboard")
        #expect(record["message"] == "a \"quoted\"\nmessage")
        #expect(record["metadata"]?["tool"] == "say")
        #expect(record["metadata"]?["duration_ms"] == .double(1.5))
        #expect(record["metadata"]?["rows"] == .int(3))
        #expect(record["metadata"]?["cached"] == .bool(true))
        #expect(record["metadata"]?["scopes"] == ["mcp", "notes:read"])
        #expect(record["metadata"]?["client"]?["id"] == "abc")
        // Without metadata there is no empty object to skip.
        let bare = try JSONValue(parsing: Array(JSONLogHandler.line(at: date, level: .error, label: "x", message: "m", metadata: [:]).dropLast()))
        #expect(bare["metadata"] == nil)
    }

    @Test("the handler merges its own metadata under the call's, and honours its level")
    func handler() throws {
        let lines = Mutex<[[UInt8]]>([])
        var logger = Logger(label: "plugboard") { label in JSONLogHandler(label: label, level: .info) { line in lines.withLock { $0.append(line) } } }
        logger[metadataKey: "plugin"] = "demo"
        logger.debug("dropped")
        logger.info("kept", metadata: ["tool": "say"])
        let written = lines.withLock { $0 }
        #expect(written.count == 1)
        let record = try JSONValue(parsing: Array(try #require(written.first).dropLast()))
        #expect(record["message"] == "kept")
        #expect(record["metadata"]?["plugin"] == "demo")
        #expect(record["metadata"]?["tool"] == "say")
    }

    @Test("a line logged while a request is served (here by the catalog) carries the request id, owner and tool; one logged outside does not")
    func requestContext() async throws {
        let lines = Mutex<[[UInt8]]>([])
        let logger = Logger(label: "plugboard") { label in
            JSONLogHandler(label: label, level: .info, metadataProvider: RequestLogContext.metadataProvider) { line in lines.withLock { $0.append(line) } }
        }
        let server = MCPServer(description: ServerDescription(name: "t", version: "1"), catalogs: LoggingCatalog(logger: logger), logger: logger)
        let request = JSONRPCRequest(id: .string("req-7"), method: "tools/call", params: ["name": "tool1", "arguments": [:]])
        _ = await server.respond(to: request, era: .legacy(version: "2025-11-25"), caller: MCPCaller(owner: "alice"))
        logger.info("between requests")

        let records = try lines.withLock { $0 }.map { try JSONValue(parsing: Array($0.dropLast())) }
        let inside = try #require(records.first { $0["message"] == "catalog at work" })
        #expect(inside["metadata"]?["request"] == "req-7")
        #expect(inside["metadata"]?["owner"] == "alice")
        #expect(inside["metadata"]?["tool"] == "tool1")
        #expect(inside["metadata"]?["method"] == "tools/call")
        let outside = try #require(records.first { $0["message"] == "between requests" })
        #expect(outside["metadata"] == nil)
    }

    @Test("a served tools/call writes a JSON completion line with request id, owner, tool and duration")
    func servedRequest() async throws {
        let lines = Mutex<[[UInt8]]>([])
        let logger = Logger(label: "plugboard") { label in JSONLogHandler(label: label, level: .debug) { line in lines.withLock { $0.append(line) } } }
        let server = try await RunningServer.start(metrics: false, logger: logger)
        defer { server.stop() }
        let token = try await server.apiToken()
        #expect(try await server.callTool("say", ["text": "hi"], token: token).status == 200)

        let records = try lines.withLock { $0 }.map { try JSONValue(parsing: Array($0.dropLast())) }
        #expect(!records.isEmpty, "every line parses as JSON")
        let served = records.first { $0["message"] == "request served" && $0["metadata"]?["tool"] == "say" }
        let metadata = try #require(served?["metadata"])
        #expect(served?["level"] == "debug")
        #expect(metadata["request"] == "1")
        #expect(metadata["owner"] == "alice")
        #expect(metadata["method"] == "tools/call")
        #expect(metadata["outcome"] == "ok")
        guard case .double(let milliseconds)? = metadata["duration_ms"] else {
            Issue.record("duration_ms is not a number: \(String(describing: metadata["duration_ms"]))")
            return
        }
        #expect(milliseconds > 0 && milliseconds < 30_000)
    }
}

/// The transport tests' one-tool catalog, logging from inside each tool call as a plugin host would.
struct LoggingCatalog: MCPCatalog, MCPCatalogSource {
    let logger: Logger
    let stub = TransportTests.StubCatalog()
    var revision: UInt64 { stub.revision }
    func leaseCatalog() -> MCPCatalogLease { MCPCatalogLease(catalog: self) }
    func tools(for caller: MCPCaller) -> [JSONValue] { stub.tools(for: caller) }
    func resources(for caller: MCPCaller) -> [JSONValue] { [] }
    func resourceTemplates(for caller: MCPCaller) -> [JSONValue] { [] }
    func prompts(for caller: MCPCaller) -> [JSONValue] { [] }
    func callTool(_ name: String, arguments: JSONObject, context: MCPCallContext) async throws(MCPError) -> JSONValue {
        logger.info("catalog at work")
        return try await stub.callTool(name, arguments: arguments, context: context)
    }
    func readResource(_ uri: String, context: MCPCallContext) async throws(MCPError) -> JSONValue {
        try await stub.readResource(uri, context: context)
    }
    func getPrompt(_ name: String, arguments: [String: String], context: MCPCallContext) async throws(MCPError) -> JSONValue {
        try await stub.getPrompt(name, arguments: arguments, context: context)
    }
    func complete(_ reference: CompletionReference, argument: String, prefix: String, caller: MCPCaller) throws(MCPError) -> [String] { [] }
}
