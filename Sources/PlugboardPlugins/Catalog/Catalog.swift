import CPlugboard
import Crypto
import Foundation
import Logging
import PlugboardContracts
import PlugboardJSON
import PlugboardMCP

/// The tools, resources and prompts of one generation, and how to run them. Immutable: a reload
/// builds a new catalog beside this one.
public final class Catalog: MCPCatalog {
    public let revision: UInt64
    let tools: [CatalogTool]
    private let toolsByName: [String: CatalogTool]
    /// Old names of renamed tools, callable until their time is up but never listed.
    private let aliases: [String: ToolAlias]
    let resources: [CatalogResource]
    let prompts: [CatalogPrompt]
    private let promptsByName: [String: CatalogPrompt]
    /// Every scope some tool, resource or prompt declares (consulted on each authenticated request).
    public let declaredScopes: Set<String>
    /// Words for people for the scopes whose manifests give them (the first one given wins).
    public let scopeDescriptions: [String: String]
    private let audit: (any AuditSink)?
    private let logger: Logger

    init(
        revision: UInt64, tools: [CatalogTool], aliases: [String: ToolAlias] = [:], resources: [CatalogResource], prompts: [CatalogPrompt],
        audit: (any AuditSink)? = nil, logger: Logger
    ) {
        self.revision = revision
        self.tools = tools
        self.toolsByName = Dictionary(tools.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.aliases = aliases
        self.resources = resources
        self.prompts = prompts
        self.promptsByName = Dictionary(prompts.map { ($0.manifest.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.declaredScopes = Set(tools.flatMap(\.manifest.scopes) + resources.flatMap(\.manifest.scopes) + prompts.flatMap(\.manifest.scopes))
        self.scopeDescriptions = (tools.map(\.manifest.scopeDescriptions) + resources.map(\.manifest.scopeDescriptions) + prompts.map(\.manifest.scopeDescriptions))
            .reduce(into: [:]) { all, some in all.merge(some) { first, _ in first } }
        self.audit = audit
        self.logger = logger
    }

    /// The names clients see, in catalog order.
    public var toolNames: [String] { tools.map(\.name) }
    /// Old names of renamed tools that still answer (hidden from lists).
    public var aliasNames: [String] { liveAliases(at: .now).keys.sorted() }
    /// Each old name that still answers, with the name it now calls.
    public var aliasTargets: [String: String] { liveAliases(at: .now).mapValues(\.tool.name) }

    func liveAliases(at now: ContinuousClock.Instant) -> [String: ToolAlias] {
        aliases.filter { $0.value.until > now }
    }

    /// The tool served under `name`, or under an old name that still answers.
    private func tool(named name: String) -> CatalogTool? {
        if let tool = toolsByName[name] { return tool }
        guard let alias = aliases[name], alias.until > .now else { return nil }
        return alias.tool
    }

    /// Which lists differ from `other`'s, as clients would see them.
    public func changedLists(since other: Catalog) -> ListChanges {
        ListChanges(
            tools: tools.map(\.listing) != other.tools.map(\.listing),
            resources: resources.map(\.listing) != other.resources.map(\.listing),
            prompts: prompts.map(\.listing) != other.prompts.map(\.listing))
    }
    public var promptNames: [String] { prompts.map(\.manifest.name) }

    // MARK: Lists

    /// The scopes a request needs: a tool by a name it is served under (`tools/call`), a resource
    /// by URI (`resources/read`) or a prompt by name (`prompts/get`); nil for an unknown one.
    public func scopes(method: String, name: String) -> [String]? {
        switch method {
        case "tools/call": tool(named: name)?.manifest.scopes
        case "resources/read": resource(at: name)?.entry.manifest.scopes
        case "prompts/get": promptsByName[name]?.manifest.scopes
        default: nil
        }
    }

    public func tools(for caller: MCPCaller) -> [JSONValue] {
        tools.filter { caller.allows($0.manifest.scopes) }.map(\.listing)
    }

    public func resources(for caller: MCPCaller) -> [JSONValue] {
        resources.filter { caller.allows($0.manifest.scopes) && $0.isFixed }.map(\.listing)
    }

    public func resourceTemplates(for caller: MCPCaller) -> [JSONValue] {
        resources.filter { caller.allows($0.manifest.scopes) && !$0.isFixed }.map(\.listing)
    }

    public func prompts(for caller: MCPCaller) -> [JSONValue] {
        prompts.filter { caller.allows($0.manifest.scopes) }.map(\.listing)
    }

    private func resource(at uri: String) -> (entry: CatalogResource, parameters: [String: String])? {
        resources.lazy.compactMap { entry in entry.match(uri).map { (entry, $0) } }.first
    }

    /// Records a resource read or prompt get like a tool call: what, for whom, how it ended.
    private func audited(
        _ kind: AuditEvent.Kind, _ name: String, plugin: String?, input: JSONValue, context: MCPCallContext,
        _ body: (CallMeter) async throws(MCPError) -> (result: JSONValue, bytes: Int)
    ) async throws(MCPError) -> JSONValue {
        let started = ContinuousClock.now
        let meter = CallMeter()
        func record(_ outcome: AuditEvent.Outcome, bytes: Int) {
            audit?.record(
                AuditEvent(
                    at: Date(), owner: context.caller.owner, client: context.caller.clientID, kind: kind, tool: name, plugin: plugin ?? "",
                    argumentsDigest: SHA256.hash(data: input.jsonBytes).hexString, rows: meter.rows, bytes: bytes,
                    duration: ContinuousClock.now - started, outcome: outcome))
        }
        do {
            let (result, bytes) = try await body(meter)
            record(.ok, bytes: bytes)
            return result
        } catch {
            let outcome: AuditEvent.Outcome =
                switch error.code {
                case .resourceNotFound: .notFound
                case .invalidParams: plugin == nil ? .notFound : .invalidArguments
                case .requestCancelled: .cancelled
                default: .internalError
                }
            record(outcome, bytes: 0)
            throw error
        }
    }

    // MARK: Tools

    public func callTool(_ name: String, arguments: JSONObject, context: MCPCallContext) async throws(MCPError) -> JSONValue {
        let started = ContinuousClock.now
        let input = JSONValue.object(arguments).jsonBytes
        let meter = CallMeter()
        func record(_ outcome: AuditEvent.Outcome, plugin: String, bytes: Int) {
            audit?.record(
                AuditEvent(
                    at: Date(), owner: context.caller.owner, client: context.caller.clientID, tool: name, plugin: plugin,
                    argumentsDigest: SHA256.hash(data: input).hexString, rows: meter.rows, bytes: bytes,
                    duration: ContinuousClock.now - started, outcome: outcome))
        }
        guard let tool = tool(named: name), context.caller.allows(tool.manifest.scopes) else {
            record(.unknownTool, plugin: "", bytes: 0)
            throw MCPError(.invalidParams, "Unknown tool '\(name)'. Call tools/list for the available tools.")
        }
        let (result, outcome, size) = await run(tool, input: input, arguments: arguments, meter: meter, context: context)
        record(outcome, plugin: tool.plugin, bytes: size)
        guard let result else { throw MCPError(.requestCancelled, "the request was cancelled") }
        return result
    }

    /// Runs a tool. The result is nil when the client cancelled the call; `size` is what the plugin
    /// returned, in bytes.
    private func run(
        _ tool: CatalogTool, input: [UInt8], arguments: JSONObject, meter: CallMeter, context: MCPCallContext
    ) async -> (result: JSONValue?, outcome: AuditEvent.Outcome, size: Int) {
        let violations = tool.manifest.inputSchema.validate(.object(arguments))
        guard violations.isEmpty else {
            let message =
                "Invalid arguments for tool '\(tool.name)': " + violations.map(\.description).joined(separator: "; ")
                + ". Expected arguments matching this JSON Schema: \(tool.manifest.inputSchema.document.jsonString)"
            return (Self.errorResult(message), .invalidArguments, 0)
        }
        let limits = tool.manifest.limits
        let outcome = await tool.transport.invoke(
            PluginCall(
                handler: tool.manifest.handler,
                input: input,
                owner: context.caller.owner,
                timeout: .milliseconds(limits.timeoutMilliseconds),
                scope: QueryScope(
                    plugin: tool.plugin, writes: tool.manifest.writes, maxRows: limits.maxRows, timeout: .milliseconds(limits.timeoutMilliseconds),
                    maxResultBytes: limits.maxResultCharacters),
                progress: context.progress,
                cancellation: context.cancellation,
                meter: meter
            ))
        switch outcome {
        case .completed(let status, let bytes):
            let (result, outcome) = toolResult(status: status, bytes: bytes, tool: tool)
            return (result, outcome, bytes.count)
        case .timedOut:
            let message = "The tool '\(tool.name)' did not finish within its \(limits.timeoutMilliseconds) ms time limit. Try a narrower request."
            return (Self.errorResult(message), .timeout, 0)
        case .cancelled:
            return (nil, .cancelled, 0)
        case .unavailable(let reason):
            return (Self.errorResult("The tool '\(tool.name)' is unavailable: \(reason). Try again."), .unavailable, 0)
        }
    }

    private func toolResult(status: Int32, bytes: [UInt8], tool: CatalogTool) -> (JSONValue, AuditEvent.Outcome) {
        let message = String(decoding: bytes, as: UTF8.self)
        switch status {
        case PB_OK:
            break
        case PB_TOOL_ERROR:
            return (Self.errorResult(message.isEmpty ? "The tool '\(tool.name)' failed." : message), .toolError)
        case PB_INVALID_ARGUMENTS:
            // Past the schema but refused by the handler: the schema is looser than the handler's
            // types, which the plugin's author should hear about.
            logger.notice(
                "plugin refused arguments its input_schema accepts", metadata: ["plugin": "\(tool.plugin)", "tool": "\(tool.name)", "reason": "\(message)"])
            return (Self.errorResult("Invalid arguments for tool '\(tool.name)': \(message)"), .invalidArguments)
        case PB_NOT_FOUND:
            return (Self.errorResult(message.isEmpty ? "Not found." : "Not found: \(message)"), .toolError)
        default:
            logger.error("plugin call failed", metadata: ["plugin": "\(tool.plugin)", "tool": "\(tool.name)", "status": "\(status)", "reason": "\(message)"])
            return (Self.errorResult("The tool '\(tool.name)' failed with an internal error; the server log has the details."), .internalError)
        }
        let result: JSONValue
        do {
            result = try ToolResultContract.check(bytes, outputSchema: tool.manifest.outputSchema)
        } catch {
            logger.error("plugin returned an invalid tool result", metadata: ["plugin": "\(tool.plugin)", "tool": "\(tool.name)", "reason": "\(error)"])
            return (Self.errorResult("The tool '\(tool.name)' returned an invalid result (\(error)); the server log has the details."), .internalError)
        }
        // The answer is at most about three times the plugin's bytes (a text rendering of
        // structured content doubles it, escaping adds a little), so most results skip the
        // exact measurement.
        let limit = tool.manifest.limits.maxResultCharacters
        if bytes.count * 3 > limit, case let size = result.jsonBytes.count, size > limit {
            let message =
                "The result of '\(tool.name)' is \(size) characters, over this tool's limit of \(limit). "
                + "Ask for less: add filters or request a smaller page."
            return (Self.errorResult(message), .overBudget)
        }
        return (result, result["isError"] == true ? .toolError : .ok)
    }

    /// What resource and prompt handlers may query: read-only, default limits.
    static func readScope(_ plugin: String) -> QueryScope {
        let limits = ToolLimits.defaults
        return QueryScope(
            plugin: plugin, writes: false, maxRows: limits.maxRows, timeout: .milliseconds(limits.timeoutMilliseconds),
            maxResultBytes: limits.maxResultCharacters)
    }

    static func errorResult(_ message: String) -> JSONValue {
        ["content": [["type": "text", "text": .string(message)]], "isError": true]
    }

    // MARK: Resources

    public func readResource(_ uri: String, context: MCPCallContext) async throws(MCPError) -> JSONValue {
        let found = resource(at: uri).flatMap { context.caller.allows($0.entry.manifest.scopes) ? $0 : nil }
        return try await audited(.resource, uri, plugin: found?.entry.plugin, input: .string(uri), context: context) { meter throws(MCPError) in
            // Out of the token's scopes, a resource is as absent as one that does not exist.
            guard let (resource, parameters) = found else {
                throw MCPError(.resourceNotFound, "Resource not found: \(uri)", data: ["uri": .string(uri)])
            }
            return try await read(resource, uri: uri, parameters: parameters, meter: meter, context: context)
        }
    }

    private func read(
        _ resource: CatalogResource, uri: String, parameters: [String: String], meter: CallMeter, context: MCPCallContext
    ) async throws(MCPError) -> (result: JSONValue, bytes: Int) {
        let request: JSONValue = ["uri": .string(uri), "params": .object(JSONObject(parameters.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))]
        let outcome = await resource.transport.invoke(
            PluginCall(
                handler: resource.manifest.handler, input: request.jsonBytes, owner: context.caller.owner,
                timeout: .milliseconds(ToolLimits.defaults.timeoutMilliseconds), scope: Self.readScope(resource.plugin),
                progress: context.progress, cancellation: context.cancellation, meter: meter))
        let bytes: [UInt8]
        switch outcome {
        case .completed(PB_OK, let payload): bytes = payload
        case .completed(PB_NOT_FOUND, _):
            throw MCPError(.resourceNotFound, "Resource not found: \(uri)", data: ["uri": .string(uri)])
        case .completed(PB_INVALID_ARGUMENTS, let payload):
            throw MCPError(.invalidParams, "Invalid resource URI \(uri): \(String(decoding: payload, as: UTF8.self))", data: ["uri": .string(uri)])
        case .completed(let status, let payload):
            logger.error("resource read failed", metadata: ["plugin": "\(resource.plugin)", "uri": "\(uri)", "status": "\(status)", "reason": "\(String(decoding: payload, as: UTF8.self))"])
            throw MCPError(.internalError, "Reading \(uri) failed; the server log has the details.")
        case .timedOut:
            throw MCPError(.internalError, "Reading \(uri) timed out.")
        case .cancelled:
            throw MCPError(.requestCancelled, "the request was cancelled")
        case .unavailable(let reason):
            throw MCPError(.internalError, "Reading \(uri) is unavailable: \(reason)")
        }
        guard let result = try? JSONValue(parsing: bytes), let contents = result["contents"]?.arrayValue,
            !contents.isEmpty,
            contents.allSatisfy({ $0["uri"]?.stringValue != nil && ($0["text"]?.stringValue != nil || $0["blob"]?.stringValue != nil) })
        else {
            logger.error("plugin returned an invalid resource", metadata: ["plugin": "\(resource.plugin)", "uri": "\(uri)"])
            throw MCPError(.internalError, "Reading \(uri) returned an invalid result; the server log has the details.")
        }
        return (["contents": .array(contents)], bytes.count)
    }

    // MARK: Prompts

    public func getPrompt(_ name: String, arguments: [String: String], context: MCPCallContext) async throws(MCPError) -> JSONValue {
        let prompt = promptsByName[name].flatMap { context.caller.allows($0.manifest.scopes) ? $0 : nil }
        let input = JSONValue.object(JSONObject(arguments.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))
        return try await audited(.prompt, name, plugin: prompt?.plugin, input: input, context: context) { meter throws(MCPError) in
            guard let prompt else {
                throw MCPError(.invalidParams, "Unknown prompt '\(name)'. Call prompts/list for the available prompts.")
            }
            return try await render(prompt, arguments: arguments, meter: meter, context: context)
        }
    }

    private func render(
        _ prompt: CatalogPrompt, arguments: [String: String], meter: CallMeter, context: MCPCallContext
    ) async throws(MCPError) -> (result: JSONValue, bytes: Int) {
        let name = prompt.manifest.name
        for argument in prompt.manifest.arguments where argument.required && (arguments[argument.name] ?? "").isEmpty {
            throw MCPError(.invalidParams, "Prompt '\(name)' needs the argument '\(argument.name)'.")
        }
        switch prompt.manifest.body {
        case .template(let template):
            var result: JSONObject = [:]
            if let description = prompt.manifest.description { result["description"] = .string(description) }
            let text = PromptTemplate.render(template, arguments: arguments)
            result["messages"] = [["role": "user", "content": ["type": "text", "text": .string(text)]]]
            return (.object(result), text.utf8.count)
        case .handler(let handler):
            let input: JSONValue = ["arguments": .object(JSONObject(arguments.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))]
            let outcome = await prompt.transport.invoke(
                PluginCall(
                    handler: handler, input: input.jsonBytes, owner: context.caller.owner,
                    timeout: .milliseconds(ToolLimits.defaults.timeoutMilliseconds), scope: Self.readScope(prompt.plugin),
                    progress: context.progress, cancellation: context.cancellation, meter: meter))
            switch outcome {
            case .completed(PB_OK, let bytes):
                guard let result = try? JSONValue(parsing: bytes), let messages = result["messages"]?.arrayValue,
                    messages.allSatisfy({ ["user", "assistant"].contains($0["role"]?.stringValue ?? "") && $0["content"]?.objectValue != nil })
                else {
                    logger.error("plugin returned an invalid prompt", metadata: ["plugin": "\(prompt.plugin)", "prompt": "\(name)"])
                    throw MCPError(.internalError, "Prompt '\(name)' returned an invalid result; the server log has the details.")
                }
                return (result, bytes.count)
            case .completed(PB_INVALID_ARGUMENTS, let bytes):
                throw MCPError(.invalidParams, "Prompt '\(name)': \(String(decoding: bytes, as: UTF8.self))")
            case .cancelled:
                throw MCPError(.requestCancelled, "the request was cancelled")
            default:
                logger.error("prompt failed", metadata: ["plugin": "\(prompt.plugin)", "prompt": "\(name)", "outcome": "\(outcome)"])
                throw MCPError(.internalError, "Prompt '\(name)' failed; the server log has the details.")
            }
        }
    }

    // MARK: Completion

    public func complete(_ reference: CompletionReference, argument: String, prefix: String, caller: MCPCaller) throws(MCPError) -> [String] {
        switch reference {
        case .prompt(let name):
            guard let prompt = promptsByName[name], caller.allows(prompt.manifest.scopes) else { throw MCPError(.invalidParams, "Unknown prompt '\(name)'") }
            guard let declared = prompt.manifest.arguments.first(where: { $0.name == argument }) else {
                throw MCPError(.invalidParams, "Prompt '\(name)' has no argument '\(argument)'")
            }
            let lowered = prefix.lowercased()
            return Array(declared.values.filter { $0.lowercased().hasPrefix(lowered) }.prefix(100))
        case .resourceTemplate(let uri):
            guard resources.contains(where: { entry in
                guard case .template(let template) = entry.manifest.address else { return false }
                return template.source == uri && caller.allows(entry.manifest.scopes)
            }) else {
                throw MCPError(.invalidParams, "Unknown resource template '\(uri)'")
            }
            return []
        }
    }
}
