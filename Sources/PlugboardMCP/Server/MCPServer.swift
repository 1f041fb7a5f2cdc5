import Logging
import PlugboardJSON

/// Answers MCP requests of either era from the current catalog. Transport-neutral: the HTTP and
/// stdio transports decode a message, pick the era, and hand it here.
public final class MCPServer: Sendable {
    public let description: ServerDescription
    /// Where list changes are published for listening clients.
    public let listChanges = ListChangeHub()
    private let catalogs: any MCPCatalogSource
    private let inFlight = InFlightRequests()
    private let pageSize: Int
    /// Nil when metrics are off: a request then records nothing.
    private let metrics: MCPMetrics?
    private let logger: Logger

    public init(description: ServerDescription, catalogs: any MCPCatalogSource, pageSize: Int = 100, metrics: MCPMetrics? = nil, logger: Logger) {
        self.description = description
        self.catalogs = catalogs
        self.pageSize = max(1, pageSize)
        self.metrics = metrics
        self.logger = logger
    }

    /// Serves one request. Errors come back as `MCPError`, with era-specific codes already applied.
    /// - Parameter session: the client's session id, if it sent one; it scopes request ids for
    ///   cancellation and carries no other state.
    public func respond(
        to request: JSONRPCRequest, era: ProtocolEra, caller: MCPCaller, session: String? = nil, progress: ProgressSink? = nil,
        cancellation: CancellationSignal = CancellationSignal()
    ) async -> Result<JSONValue, MCPError> {
        let started = ContinuousClock.now
        metrics?.began()
        let key = InFlightRequests.Key(owner: caller.owner, session: session, id: request.id)
        inFlight.begin(key, signal: cancellation)
        defer { inFlight.end(key, signal: cancellation) }
        let context = MCPCallContext(caller: caller, requestID: request.id, progress: progress, cancellation: cancellation)
        // One catalog from start to end: a reload meanwhile never mixes two generations.
        let lease = catalogs.leaseCatalog()
        defer { lease.release() }
        let log = RequestLogContext(id: request.id, method: request.method, owner: caller.owner, params: request.params)
        let answer = await RequestLogContext.$current.withValue(log) { () async -> Result<JSONValue, MCPError> in
            do throws(MCPError) {
                let result = try await dispatch(request, era: era, catalog: lease.catalog, context: context)
                return .success(era.isModern ? decorateModern(result) : result)
            } catch {
                return .failure(era.isModern ? modernError(error) : error)
            }
        }
        finished(request, caller: caller, log: log, answer: answer, started: started)
        return answer
    }

    /// Records a served request: its metrics, and its completion line in the log at `debug` (one
    /// line per request at `info` would cost every call a write to stderr).
    private func finished(
        _ request: JSONRPCRequest, caller: MCPCaller, log: RequestLogContext, answer: Result<JSONValue, MCPError>, started: ContinuousClock.Instant
    ) {
        let logs = logger.logLevel <= .debug
        guard metrics != nil || logs else { return }
        let duration = ContinuousClock.now - started
        let outcome: String =
            switch answer {
            case .success(let result): result["isError"] == true ? "tool_error" : "ok"
            case .failure(let error): MCPMetrics.outcome(error)
            }
        metrics?.ended(method: request.method, outcome: outcome, duration: duration)
        guard logs else { return }
        var metadata: Logger.Metadata = [
            "request": "\(request.id)", "method": "\(request.method)", "owner": "\(caller.owner)", "outcome": "\(outcome)",
            // A number, not text, so JSON logs can be filtered on it.
            "duration_ms": .stringConvertible(Double(duration.nanoseconds) / 1_000_000),
        ]
        if let client = caller.clientID { metadata["client"] = "\(client)" }
        if let (key, value) = log.target { metadata[key] = "\(value)" }
        if case .failure(let error) = answer { metadata["error"] = "\(error.message)" }
        logger.debug("request served", metadata: metadata)
    }

    /// Handles a notification from the client. Only cancellation needs action.
    public func receive(notification method: String, params: JSONObject, caller: MCPCaller, session: String? = nil) {
        guard method == "notifications/cancelled" else { return }
        guard let id = params["requestId"].flatMap(RequestID.init) else { return }
        logger.debug("request cancelled by client", metadata: ["request": "\(id)", "owner": "\(caller.owner)"])
        inFlight.cancel(InFlightRequests.Key(owner: caller.owner, session: session, id: id))
    }

    // MARK: Dispatch

    private func dispatch(
        _ request: JSONRPCRequest, era: ProtocolEra, catalog: any MCPCatalog, context: MCPCallContext
    ) async throws(MCPError) -> JSONValue {
        let params = request.params
        switch request.method {
        case "initialize":
            let requested = params["protocolVersion"]?.stringValue
            var result: JSONObject = [
                "protocolVersion": .string(ProtocolVersion.negotiate(requested)),
                "capabilities": description.capabilities,
                "serverInfo": description.implementation,
            ]
            if let instructions = description.instructions { result["instructions"] = .string(instructions) }
            return .object(result)
        case "server/discover":
            var result: JSONObject = [
                "supportedVersions": .array(ProtocolVersion.all.map(JSONValue.string)),
                "capabilities": description.capabilities,
                "serverInfo": description.implementation,
            ]
            if let instructions = description.instructions { result["instructions"] = .string(instructions) }
            result["ttlMs"] = .int(Int64(description.listTTLMilliseconds))
            result["cacheScope"] = "public"
            return .object(result)
        case "ping":
            return .object(JSONObject())
        case "tools/list":
            return try list("tools", catalog.tools(for: context.caller), params: params, era: era)
        case "resources/list":
            return try list("resources", catalog.resources(for: context.caller), params: params, era: era)
        case "resources/templates/list":
            return try list("resourceTemplates", catalog.resourceTemplates(for: context.caller), params: params, era: era)
        case "prompts/list":
            return try list("prompts", catalog.prompts(for: context.caller), params: params, era: era)
        case "tools/call":
            guard let name = params["name"]?.stringValue else {
                throw MCPError(.invalidParams, "tools/call needs params.name, the tool to call")
            }
            let arguments: JSONObject
            switch params["arguments"] {
            case nil, .null?: arguments = JSONObject()
            case .object(let object)?: arguments = object
            default: throw MCPError(.invalidParams, "params.arguments must be an object")
            }
            return try await catalog.callTool(name, arguments: arguments, context: context)
        case "resources/read":
            guard let uri = params["uri"]?.stringValue else {
                throw MCPError(.invalidParams, "resources/read needs params.uri")
            }
            var result = try await catalog.readResource(uri, context: context)
            if era.isModern, case .object(var object) = result {
                // Resource contents come from plugins and may depend on the caller.
                object["ttlMs"] = 0
                object["cacheScope"] = "private"
                result = .object(object)
            }
            return result
        case "prompts/get":
            guard let name = params["name"]?.stringValue else {
                throw MCPError(.invalidParams, "prompts/get needs params.name")
            }
            var arguments: [String: String] = [:]
            for entry in params["arguments"]?.objectValue?.entries ?? [] {
                guard let value = entry.value.stringValue else {
                    throw MCPError(.invalidParams, "prompt argument '\(entry.key)' must be a string")
                }
                arguments[entry.key] = value
            }
            return try await catalog.getPrompt(name, arguments: arguments, context: context)
        case "completion/complete":
            return try complete(params, catalog: catalog, caller: context.caller)
        default:
            throw MCPError(.methodNotFound, "Method not found: \(request.method)")
        }
    }

    private func list(_ key: String, _ items: [JSONValue], params: JSONObject, era: ProtocolEra) throws(MCPError) -> JSONValue {
        let page = try Pagination.page(items, cursor: params["cursor"], size: pageSize)
        var result: JSONObject = [key: .array(page.items)]
        if let next = page.next { result["nextCursor"] = .string(next) }
        if era.isModern {
            result["ttlMs"] = .int(Int64(description.listTTLMilliseconds))
            // Lists may differ per caller once tokens carry scopes, so shared caches must not keep them.
            result["cacheScope"] = "private"
        }
        return .object(result)
    }

    private func complete(_ params: JSONObject, catalog: any MCPCatalog, caller: MCPCaller) throws(MCPError) -> JSONValue {
        guard let ref = params["ref"]?.objectValue, let type = ref["type"]?.stringValue else {
            throw MCPError(.invalidParams, "completion/complete needs params.ref with a type")
        }
        guard let argument = params["argument"]?.objectValue, let name = argument["name"]?.stringValue else {
            throw MCPError(.invalidParams, "completion/complete needs params.argument.name")
        }
        let prefix = argument["value"]?.stringValue ?? ""
        let reference: CompletionReference
        switch type {
        case "ref/prompt":
            guard let promptName = ref["name"]?.stringValue else { throw MCPError(.invalidParams, "ref/prompt needs a name") }
            reference = .prompt(name: promptName)
        case "ref/resource":
            guard let uri = ref["uri"]?.stringValue else { throw MCPError(.invalidParams, "ref/resource needs a uri") }
            reference = .resourceTemplate(uri: uri)
        default:
            throw MCPError(.invalidParams, "unknown completion reference type '\(type)'")
        }
        let values = try catalog.complete(reference, argument: name, prefix: prefix, caller: caller)
        return ["completion": ["values": .array(values.map(JSONValue.string)), "total": .int(Int64(values.count)), "hasMore": false]]
    }

    // MARK: Eras

    /// 2026-07-28 results say they are complete and who answered.
    private func decorateModern(_ result: JSONValue) -> JSONValue {
        guard case .object(var object) = result else { return result }
        object["resultType"] = "complete"
        var meta = object["_meta"]?.objectValue ?? JSONObject()
        meta["io.modelcontextprotocol/serverInfo"] = description.implementation
        object["_meta"] = .object(meta)
        return .object(object)
    }

    /// 2026-07-28 folds "resource not found" into invalid params.
    private func modernError(_ error: MCPError) -> MCPError {
        guard error.code == .resourceNotFound else { return error }
        return MCPError(.invalidParams, error.message, data: error.data)
    }
}
