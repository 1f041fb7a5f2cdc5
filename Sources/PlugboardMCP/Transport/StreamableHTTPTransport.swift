import ExtrasBase64
import HTTPTypes
import Logging
import PlugboardJSON

/// The MCP Streamable HTTP transport, stateless and dual-era, independent of any HTTP framework.
///
/// Every POST stands alone: no session is issued or required (hosted Claude re-initializes and
/// drops session ids), so any instance behind a load balancer can answer any request. The era is
/// chosen per request from `MCP-Protocol-Version`, as the Python SDK's reference server does.
public struct StreamableHTTPTransport: Sendable {
    public let server: MCPServer
    public let policy: HTTPRequestPolicy
    /// The largest request body accepted; the HTTP layer answers `payloadTooLarge()` above it.
    public let maxBodyBytes: Int
    /// How often an open SSE stream gets a keep-alive comment.
    public let keepAliveInterval: Duration
    private let logger: Logger

    public init(server: MCPServer, policy: HTTPRequestPolicy, maxBodyBytes: Int, keepAliveInterval: Duration = .seconds(2), logger: Logger) {
        self.server = server
        self.policy = policy
        self.maxBodyBytes = maxBodyBytes
        self.keepAliveInterval = keepAliveInterval
        self.logger = logger
    }

    /// Answers one HTTP request to the MCP endpoint for `caller`.
    public func handle(_ request: MCPHTTPRequest, caller: MCPCaller) async -> MCPHTTPResponse {
        if let refusal = refusal(authority: request.authority, headers: request.headerFields) { return refusal }
        switch request.method {
        case .post:
            return await post(request, caller: caller)
        case .get:
            return standaloneStream(request)
        case .delete:
            return Self.methodNotAllowed("DELETE ends a session, and this server keeps none")
        default:
            return Self.methodNotAllowed("use POST (and GET for the notification stream)")
        }
    }

    /// The answer for a request from a host name or browser origin this server must not serve
    /// (DNS rebinding, cross-site pages), checked before anything else, authentication included.
    public func refusal(authority: String?, headers: HTTPFields) -> MCPHTTPResponse? {
        guard policy.allows(host: authority) else {
            return Self.error(.misdirectedRequest, MCPError(.invalidRequest, "this server does not answer to host '\(authority ?? "")'"))
        }
        guard policy.allows(origin: headers[.origin]) else {
            return Self.error(.forbidden, MCPError(.invalidRequest, "origin '\(headers[.origin] ?? "")' is not allowed"))
        }
        return nil
    }

    /// The answer for a body over `maxBodyBytes`.
    public func payloadTooLarge() -> MCPHTTPResponse {
        Self.error(.contentTooLarge, MCPError(.invalidRequest, "request body exceeds \(maxBodyBytes) bytes"))
    }

    // MARK: POST

    private func post(_ request: MCPHTTPRequest, caller: MCPCaller) async -> MCPHTTPResponse {
        let headers = request.headerFields
        guard Self.isJSON(headers[.contentType]) else {
            return Self.error(.unsupportedMediaType, MCPError(.invalidRequest, "Content-Type must be application/json"))
        }
        let accept = Accept(headers[.accept])
        guard accept.json || accept.eventStream else {
            return Self.error(.notAcceptable, MCPError(.invalidRequest, "Accept must allow application/json or text/event-stream"))
        }
        let value: JSONValue
        do {
            value = try JSONValue(parsing: request.body)
        } catch {
            return Self.error(.badRequest, MCPError(.parseError, "Parse error: \(error)"))
        }
        let message: JSONRPCMessage
        do {
            message = try JSONRPCMessage(value)
        } catch {
            return Self.error(.badRequest, error, id: value["id"].flatMap(RequestID.init))
        }

        let era: ProtocolEra
        switch Self.era(header: headers[.mcpProtocolVersion], message: message) {
        case .success(let chosen): era = chosen
        case .failure(let error): return Self.error(.badRequest, error, id: message.id)
        }
        if era.isModern, let error = Self.checkModernHeaders(headers, message: message) {
            return Self.error(.badRequest, error, id: message.id)
        }

        switch message {
        case .response:
            return .complete(status: .accepted, headerFields: [:], body: [])
        case .notification(let method, let params):
            server.receive(notification: method, params: params, caller: caller, session: era.isModern ? nil : headers[.mcpSessionID])
            return .complete(status: .accepted, headerFields: [:], body: [])
        case .request(let rpc):
            // Legacy clients keep the session id of their initialize; it only namespaces request
            // ids for cancellation, so two clients of one owner never cancel each other's calls.
            let session = era.isModern ? nil : headers[.mcpSessionID]
            if rpc.method == "subscriptions/listen", era.isModern {
                return subscriptionStream(rpc, accept: accept)
            }
            let progressToken = rpc.meta?["progressToken"].flatMap { $0 == .null ? nil : $0 }
            if accept.eventStream, progressToken != nil || !accept.json {
                return stream(rpc, era: era, caller: caller, session: session, progressToken: progressToken)
            }
            let result = await server.respond(to: rpc, era: era, caller: caller, session: session)
            switch result {
            case .success(let value):
                var response = Self.json(.ok, JSONRPCEncoding.result(id: rpc.id, value))
                if rpc.method == "initialize", case .complete(let status, var fields, let body) = response {
                    fields[.mcpSessionID] = Self.newSessionID()
                    response = .complete(status: status, headerFields: fields, body: body)
                }
                return response
            case .failure(let error) where error.code == .requestCancelled:
                // A cancelled request gets no response: an empty event stream says exactly that.
                return .complete(status: .ok, headerFields: [.contentType: "text/event-stream"], body: [])
            case .failure(let error):
                return Self.json(Self.status(of: error, era: era), JSONRPCEncoding.error(id: rpc.id, error))
            }
        }
    }

    /// Answers with an SSE stream: progress notifications as they come, then the response, with
    /// keep-alive comments in between so proxies and clients with read timeouts hold on.
    private func stream(_ request: JSONRPCRequest, era: ProtocolEra, caller: MCPCaller, session: String?, progressToken: JSONValue?) -> MCPHTTPResponse {
        let server = self.server
        let keepAliveInterval = self.keepAliveInterval
        var headers: HTTPFields = [:]
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache, no-transform"
        headers[.xAccelBuffering] = "no"
        let (events, continuation) = AsyncStream.makeStream(of: [UInt8].self, bufferingPolicy: .bufferingNewest(256))
        let cancellation = CancellationSignal()
        var progress: ProgressSink?
        if let progressToken {
            progress = { update in
                continuation.yield(SSE.message(ProgressNotification.encode(token: progressToken, update)))
            }
        }
        let keepAlive = Task {
            while (try? await Task.sleep(for: keepAliveInterval)) != nil {
                continuation.yield(SSE.keepAlive)
            }
        }
        Task {
            let result = await server.respond(to: request, era: era, caller: caller, session: session, progress: progress, cancellation: cancellation)
            keepAlive.cancel()
            switch result {
            case .success(let value):
                continuation.yield(SSE.message(JSONRPCEncoding.result(id: request.id, value)))
            case .failure(let error) where error.code == .requestCancelled:
                break  // a cancelled request gets no response
            case .failure(let error):
                continuation.yield(SSE.message(JSONRPCEncoding.error(id: request.id, error)))
            }
            continuation.finish()
        }
        // A client that closes the stream cancels the request (2026-07-28 says so; for the
        // handshake era nobody is left to read the answer either).
        return .stream(status: .ok, headerFields: headers, events: events, clientGone: { cancellation.cancel() })
    }

    /// A random session id (visible ASCII, 128 bits). Nothing is stored under it.
    static func newSessionID() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        return String(high, radix: 16).leftPadded(to: 16) + String(low, radix: 16).leftPadded(to: 16)
    }

    // MARK: Eras and headers

    static func era(header: String?, message: JSONRPCMessage) -> Result<ProtocolEra, MCPError> {
        if case .request(let request) = message, request.method == "initialize" {
            // initialize only exists in the handshake era, whatever the header says.
            return .success(.legacy(version: ProtocolVersion.negotiate(request.params["protocolVersion"]?.stringValue)))
        }
        guard let header else { return .success(.legacy(version: ProtocolVersion.assumedWithoutHeader)) }
        if header == ProtocolVersion.modern { return .success(.modern) }
        if ProtocolVersion.legacy.contains(header) { return .success(.legacy(version: header)) }
        return .failure(
            MCPError(
                .unsupportedProtocolVersion, "Unsupported protocol version '\(header)'",
                data: ["supported": .array(ProtocolVersion.all.map(JSONValue.string)), "requested": .string(header)]))
    }

    /// 2026-07-28: `Mcp-Method`/`Mcp-Name` must repeat the body, and every request carries its
    /// protocol version and client capabilities in `_meta`.
    static func checkModernHeaders(_ headers: HTTPFields, message: JSONRPCMessage) -> MCPError? {
        let method: String
        let params: JSONObject
        switch message {
        case .request(let request): (method, params) = (request.method, request.params)
        case .notification(let name, let body): (method, params) = (name, body)
        case .response: return MCPError(.invalidRequest, "clients send no responses in protocol version \(ProtocolVersion.modern)")
        }
        guard let methodHeader = headers[.mcpMethod] else {
            return MCPError(.headerMismatch, "missing Mcp-Method header (it must repeat the body's method, '\(method)')")
        }
        guard methodHeader == method else {
            return MCPError(.headerMismatch, "Mcp-Method header '\(methodHeader)' does not match the body's method '\(method)'")
        }
        let nameKey: String? =
            switch method {
            case "tools/call", "prompts/get": "name"
            case "resources/read": "uri"
            default: nil
            }
        if let nameKey {
            let bodyName = params[nameKey]?.stringValue ?? ""
            guard let raw = headers[.mcpName] else {
                return MCPError(.headerMismatch, "missing Mcp-Name header (it must repeat params.\(nameKey), '\(bodyName)')")
            }
            guard let headerName = decodeHeaderValue(raw) else {
                return MCPError(.headerMismatch, "Mcp-Name header is not valid (plain ASCII or =?base64?...?=)")
            }
            guard headerName == bodyName else {
                return MCPError(.headerMismatch, "Mcp-Name header '\(headerName)' does not match params.\(nameKey) '\(bodyName)'")
            }
        }
        guard case .request = message else { return nil }
        let meta = params["_meta"]?.objectValue
        guard let version = meta?["io.modelcontextprotocol/protocolVersion"]?.stringValue else {
            return MCPError(.invalidParams, "params._meta must carry \"io.modelcontextprotocol/protocolVersion\" in protocol version \(ProtocolVersion.modern)")
        }
        guard version == headers[.mcpProtocolVersion] else {
            return MCPError(.headerMismatch, "MCP-Protocol-Version header and params._meta protocolVersion ('\(version)') differ")
        }
        guard meta?["io.modelcontextprotocol/clientCapabilities"]?.objectValue != nil else {
            return MCPError(.invalidParams, "params._meta must carry \"io.modelcontextprotocol/clientCapabilities\" in protocol version \(ProtocolVersion.modern)")
        }
        return nil
    }

    /// Header values are ASCII; other text travels as `=?base64?<base64 of UTF-8>?=`.
    static func decodeHeaderValue(_ value: String) -> String? {
        guard value.hasPrefix("=?base64?"), value.hasSuffix("?="), value.count >= 11 else {
            return value.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F } ? value : nil
        }
        let encoded = value.dropFirst(9).dropLast(2)
        // Strict RFC 4648: padding only at the end, only where it belongs.
        guard let bytes = try? Base64.decode(string: String(encoded)) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    static func status(of error: MCPError, era: ProtocolEra) -> HTTPResponse.Status {
        switch error.code {
        case .parseError, .invalidRequest, .headerMismatch, .unsupportedProtocolVersion, .missingRequiredClientCapability:
            .badRequest
        case .methodNotFound:
            era.isModern ? .notFound : .ok
        case .invalidParams:
            era.isModern ? .badRequest : .ok
        default:
            .ok
        }
    }

    // MARK: Responses

    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        var matched = false
        MediaTypes.forEach(in: contentType) { mediaType in matched = MediaTypes.equals(mediaType, "application/json") }
        return matched
    }

    static func json(_ status: HTTPResponse.Status, _ body: [UInt8]) -> MCPHTTPResponse {
        .complete(status: status, headerFields: [.contentType: "application/json"], body: body)
    }

    static func error(_ status: HTTPResponse.Status, _ error: MCPError, id: RequestID? = nil) -> MCPHTTPResponse {
        json(status, JSONRPCEncoding.error(id: id, error))
    }

    static func methodNotAllowed(_ reason: String) -> MCPHTTPResponse {
        .complete(
            status: .methodNotAllowed, headerFields: [.contentType: "application/json", .allow: "GET, POST"],
            body: JSONRPCEncoding.error(id: nil, MCPError(.invalidRequest, "Method not allowed: \(reason)")))
    }
}

/// What an `Accept` header allows. No header means anything.
struct Accept {
    let json: Bool
    let eventStream: Bool

    init(_ header: String?) {
        guard let header else {
            (json, eventStream) = (true, true)
            return
        }
        var json = false
        var eventStream = false
        MediaTypes.forEach(in: header) { mediaType in
            if MediaTypes.equals(mediaType, "*/*") {
                (json, eventStream) = (true, true)
            } else if MediaTypes.equals(mediaType, "application/json") || MediaTypes.equals(mediaType, "application/*") {
                json = true
            } else if MediaTypes.equals(mediaType, "text/event-stream") || MediaTypes.equals(mediaType, "text/*") {
                eventStream = true
            }
        }
        (self.json, self.eventStream) = (json, eventStream)
    }
}

/// Reads the media types of `Accept` and `Content-Type` headers without allocating: these run on
/// every request.
enum MediaTypes {
    /// Calls `body` with each comma-separated media type, parameters and spaces removed.
    static func forEach(in header: String, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        var header = header
        header.withUTF8 { bytes in
            var start = 0
            while start < bytes.count {
                var end = start
                while end < bytes.count, bytes[end] != UInt8(ascii: ",") { end += 1 }
                var typeEnd = start
                while typeEnd < end, bytes[typeEnd] != UInt8(ascii: ";") { typeEnd += 1 }
                var first = start
                while first < typeEnd, bytes[first] == UInt8(ascii: " ") || bytes[first] == UInt8(ascii: "\t") { first += 1 }
                var last = typeEnd
                while last > first, bytes[last - 1] == UInt8(ascii: " ") || bytes[last - 1] == UInt8(ascii: "\t") { last -= 1 }
                body(UnsafeBufferPointer(rebasing: bytes[first..<last]))
                start = end + 1
            }
        }
    }

    /// ASCII case-insensitive comparison with a lowercase literal.
    static func equals(_ bytes: UnsafeBufferPointer<UInt8>, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = lowercase.utf8Start
        for index in 0..<bytes.count {
            let byte = bytes[index]
            let lowered = (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 32 : byte
            if lowered != expected[index] { return false }
        }
        return true
    }
}

extension JSONRPCMessage {
    var id: RequestID? {
        if case .request(let request) = self { return request.id }
        return nil
    }
}

extension String {
    func leftPadded(to length: Int) -> String {
        count >= length ? self : String(repeating: "0", count: length - count) + self
    }
}
