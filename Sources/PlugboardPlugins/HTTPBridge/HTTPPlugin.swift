import AsyncHTTPClient
import CPlugboard
import Logging
import NIOCore
import NIOHTTP1
import PlugboardJSON

/// A `kind: http` plugin: each tool is one request to the plugin's upstream, made by the host.
/// The call carries the caller's identity as a token the host mints for that upstream; the
/// client's token is never seen here. Stateless, so every reload simply makes a new one.
final class HTTPPlugin: PluginTransport {
    private struct Tool {
        let request: HTTPRequestTemplate
        let scopes: [String]
        let limits: ToolLimits
    }

    private let plugin: String
    private let settings: HTTPPluginSettings
    private let tools: [String: Tool]
    private let tokens: (any BridgeTokenMinter)?
    private let logger: Logger

    /// One client for every http plugin, for the life of the process, so connections to an
    /// upstream are kept alive across calls and reloads. Redirects are not followed: the bridge
    /// token is for one audience and must not travel to wherever a redirect points.
    private static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, decompression: .disabled)
        // A refused connection is an answer ("the upstream is down"), not something to retry until the deadline.
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    init(manifest: Manifest, settings: HTTPPluginSettings, tokens: (any BridgeTokenMinter)?, logger: Logger) {
        plugin = manifest.plugin
        self.settings = settings
        var tools: [String: Tool] = [:]
        for tool in manifest.tools {
            if let request = tool.request { tools[tool.handler] = Tool(request: request, scopes: tool.scopes, limits: tool.limits) }
        }
        self.tools = tools
        self.tokens = tokens
        self.logger = logger
    }

    func invoke(_ call: PluginCall) async -> PluginOutcome {
        guard let tool = tools[call.handler] else { return .completed(status: PB_NOT_FOUND, bytes: Array("no tool '\(call.handler)'".utf8)) }
        let arguments = (try? JSONValue(parsing: call.input))?.objectValue ?? JSONObject()
        let request: HTTPClientRequest
        do {
            request = try await prepare(tool, arguments: arguments, owner: call.owner)
        } catch let failure as RequestRenderFailure {
            return .completed(status: PB_TOOL_ERROR, bytes: Array(failure.description.utf8))
        } catch {
            // Not the model's doing: the generic error result, with the reason in the log.
            return .completed(status: -1, bytes: Array("cannot mint the bridge token for plugin '\(plugin)': \(error)".utf8))
        }
        let maxBytes = min(tool.limits.maxResultCharacters * 4 + 65_536, 64 << 20)
        let (timeout, template, logger) = (call.timeout, tool.request, logger)
        let (maxRows, origin) = (tool.limits.maxRows, Self.origin(of: settings.baseURL))
        let exchange = Task {
            await Self.exchange(request, template: template, timeout: timeout, maxBytes: maxBytes, maxRows: maxRows, origin: origin, logger: logger)
        }
        // notifications/cancelled or a closed stream ends the request upstream too.
        call.cancellation?.onCancel { exchange.cancel() }
        return await withTaskCancellationHandler { await exchange.value } onCancel: { exchange.cancel() }
    }

    /// Sends the request and maps the answer, within one deadline for the whole exchange:
    /// AsyncHTTPClient's own ends with the response head, and an upstream trickling its body must
    /// not hold the call past timeout_ms.
    private static func exchange(
        _ request: HTTPClientRequest, template: HTTPRequestTemplate, timeout: Duration, maxBytes: Int, maxRows: Int, origin: String, logger: Logger
    ) async -> PluginOutcome {
        let path = template.path
        return await withTaskGroup(of: PluginOutcome?.self) { group in
            group.addTask {
                do {
                    let mapped =
                        if let pagination = template.pagination {
                            try await pages(request, pagination: pagination, template: template, timeout: timeout, maxBytes: maxBytes, maxRows: maxRows, origin: origin)
                        } else {
                            try await send(request, pointer: template.responsePointer, template: template, timeout: timeout, maxBytes: maxBytes).mapped
                        }
                    switch mapped {
                    case .result(let result): return .completed(status: PB_OK, bytes: result.jsonBytes)
                    case .toolError(let message): return .completed(status: PB_TOOL_ERROR, bytes: Array(message.utf8))
                    }
                } catch is CancellationError {
                    return nil
                } catch is NIOTooManyBytesError {
                    return .completed(status: PB_TOOL_ERROR, bytes: Array("The upstream API's answer is larger than \(maxBytes) bytes. Ask for less.".utf8))
                } catch let error as HTTPClientError where error == .deadlineExceeded {
                    // The client's deadline is the same timeout_ms, and may fire first.
                    return .timedOut
                } catch {
                    if Task.isCancelled { return nil }
                    logger.notice("http plugin request failed", metadata: ["path": "\(path)", "error": "\(error)"])
                    return .completed(status: PB_TOOL_ERROR, bytes: Array("The upstream API could not be reached (\(error)). Try again later.".utf8))
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return Task.isCancelled ? nil : .timedOut
            }
            defer { group.cancelAll() }
            let first = await group.next() ?? nil
            return first ?? .cancelled
        }
    }

    private static func send(
        _ request: HTTPClientRequest, pointer: String, template: HTTPRequestTemplate, timeout: Duration, maxBytes: Int
    ) async throws -> (mapped: UpstreamReply.Mapped, json: JSONValue?) {
        let response = try await client.execute(request, timeout: .milliseconds(Int64(timeout / .milliseconds(1))))
        var collected = try await response.body.collect(upTo: maxBytes)
        let bytes = collected.readBytes(length: collected.readableBytes) ?? []
        let mapped = UpstreamReply.map(
            status: Int(response.status.code), body: bytes, retryAfter: response.headers.first(name: "Retry-After"),
            pointer: pointer, method: template.method, path: template.path)
        return (mapped, (200..<300).contains(Int(response.status.code)) ? try? JSONValue(parsing: bytes) : nil)
    }

    /// Follows `next` links, gathering items until the list ends or `maxRows` are reached. A link
    /// to another origin is not followed: the bridge token is for this upstream only.
    private static func pages(
        _ first: HTTPClientRequest, pagination: HTTPRequestTemplate.Pagination, template: HTTPRequestTemplate, timeout: Duration, maxBytes: Int,
        maxRows: Int, origin: String
    ) async throws -> UpstreamReply.Mapped {
        var items: [JSONValue] = []
        var request = first
        while true {
            let (mapped, json) = try await send(request, pointer: pagination.items, template: template, timeout: timeout, maxBytes: maxBytes)
            guard case .result = mapped, let json else { return mapped }
            guard let page = UpstreamReply.resolve(pagination.items, in: json)?.arrayValue else {
                return .toolError("The upstream API's page has no list at \(pagination.items) (the tool's paginate.items); the manifest may be out of date.")
            }
            items += page
            let next = UpstreamReply.resolve(pagination.next, in: json)?.stringValue
            if items.count >= maxRows || next == nil {
                let truncated = items.count > maxRows || (items.count == maxRows && next != nil)
                return .result(UpstreamReply.structured(["items": .array(Array(items.prefix(maxRows))), "truncated": .bool(truncated)]))
            }
            guard let next, Self.origin(of: next) == origin else {
                return .toolError("The upstream API's next page is at another origin (\(next ?? "")); it is not followed, so the bridge token stays with \(origin).")
            }
            var following = HTTPClientRequest(url: next)
            following.headers = first.headers
            request = following
        }
    }

    /// `scheme://host[:port]`, lowercased, of a URL.
    static func origin(of url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return "" }
        let rest = url[schemeEnd.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        return (url[..<schemeEnd.lowerBound] + "://" + authority).lowercased()
    }

    /// The request for `tool`, with the caller's identity as a freshly minted token.
    private func prepare(_ tool: Tool, arguments: JSONObject, owner: String) async throws -> HTTPClientRequest {
        var request = HTTPClientRequest(url: try RequestRenderer.url(base: settings.baseURL, template: tool.request, arguments: arguments))
        request.method = HTTPMethod(rawValue: tool.request.method)
        request.headers.add(name: "User-Agent", value: "plugboard")
        request.headers.add(name: "Accept", value: "application/json")
        for (name, value) in try RequestRenderer.headers(tool.request, arguments: arguments) { request.headers.add(name: name, value: value) }
        if let body = try RequestRenderer.body(tool.request, arguments: arguments) {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body.jsonBytes))
        }
        if let audience = settings.audience {
            guard let tokens else { throw BridgeUnavailable() }
            let token = try await tokens.token(owner: owner, audience: audience, scopes: tool.scopes)
            request.headers.replaceOrAdd(name: "Authorization", value: "Bearer \(token)")
        }
        return request
    }

    /// Calls end with the request; a retired http plugin holds nothing.
    func retire() async {}
}

private struct BridgeUnavailable: Error, CustomStringConvertible {
    var description: String { "the host has no bridge token signer (it is set up by the server, not in stdio or test hosts)" }
}
