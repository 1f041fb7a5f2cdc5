import HTTPTypes
import Hummingbird
import Logging
import PlugboardAuth
import PlugboardJSON
import PlugboardMCP
import PlugboardPlugins

/// The resource server in front of `/mcp`: every request carries a bearer token for this resource,
/// issued here or by the configured issuer, and the caller (owner, client, scopes) comes from it
/// and nothing else.
struct ResourceGate: Sendable {
    let verifier: any BearerVerifier
    /// The issuer clients are sent to, given this server's public base URL.
    let authorizationServer: @Sendable (String) -> String
    let origin: PublicOrigin
    let serverName: String
    let scopes: @Sendable () -> ScopePolicy
    let catalog: @Sendable () -> Catalog?
    /// Tokens without the `mcp` scope are refused (403), for issuers that also grant tokens for
    /// other purposes.
    let requiresBaseScope: Bool
    let logger: Logger

    enum Outcome {
        case caller(MCPCaller)
        case refused(Response)
    }

    func addRoutes(to router: Router<PlugboardRequestContext>) {
        // RFC 9728 metadata, path-suffixed for /mcp and at the root.
        for path in ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"] {
            router.get(RouterPath(path)) { request, context in
                OAuthEndpoints.json(.ok, metadata(base: origin.base(of: request, context: context)), cors: true)
            }
            router.on(RouterPath(path), method: .options) { _, _ in OAuthEndpoints.preflight() }
        }
    }

    func metadata(base: String) -> JSONValue {
        .object(
            JSONObject([
                ("resource", .string(base + "/mcp")),
                ("authorization_servers", .array([.string(authorizationServer(base))])),
                ("scopes_supported", .array(scopes().supported.map(JSONValue.string))),
                ("bearer_methods_supported", ["header"]),
                ("resource_name", .string(serverName)),
            ]))
    }

    func authenticate(_ request: Request, context: PlugboardRequestContext) async -> Outcome {
        let base = origin.base(of: request, context: context)
        // Tokens in URLs end up in logs and Referer headers: refused outright (RFC 6750 §2.3 is a MAY we decline).
        if let query = request.uri.query, query.contains("access_token") {
            return .refused(
                challenge(
                    .badRequest, base: base, error: "invalid_request",
                    description: "send the access token in the Authorization header, never in the URL"))
        }
        guard let header = request.headers[.authorization] else {
            return .refused(challenge(.unauthorized, base: base))
        }
        guard header.count > 7, header.prefix(7).lowercased() == "bearer " else {
            return .refused(challenge(.unauthorized, base: base, error: "invalid_request", description: "use the Bearer authorization scheme"))
        }
        let token = header.dropFirst(7).trimmingCharacters(in: .whitespaces)
        do {
            switch try await verifier.verify(token, resource: base + "/mcp") {
            case .valid(let record):
                let scopes: Set<String>? = record.unrestricted ? nil : Set(record.scopes)
                if requiresBaseScope, ScopePolicy.lacksBase(record) {
                    logger.info(
                        "bearer token refused: it lacks the \(ScopePolicy.base) scope (it has: \(record.scopes.joined(separator: " ")))",
                        metadata: ["peer": "\(context.peer)", "client": "\(record.clientID)"])
                    return .refused(
                        challenge(
                            .forbidden, base: base, error: "insufficient_scope", description: "this server needs the scope \(ScopePolicy.base)",
                            scope: ScopePolicy.base))
                }
                return .caller(MCPCaller(owner: record.owner, clientID: record.clientID, scopes: scopes))
            case .invalid(let reason):
                logger.info("bearer token refused: \(reason)", metadata: ["peer": "\(context.peer)"])
                return .refused(
                    challenge(.unauthorized, base: base, error: "invalid_token", description: "the access token is invalid, expired or revoked"))
            }
        } catch is VerifierBusy {
            logger.debug("bearer token not checked: the issuer is busy with other new tokens", metadata: ["peer": "\(context.peer)"])
            return .refused(Response(status: .serviceUnavailable, headers: [.retryAfter: "1"]))
        } catch {
            logger.error("cannot verify a bearer token: \(error)")
            return .refused(Response(status: .serviceUnavailable, headers: [.retryAfter: "1"]))
        }
    }

    /// 403 when the request calls a tool, reads a resource or gets a prompt whose scopes the token
    /// lacks (RFC 6750 §3.1), naming every scope the request needs so the client can step up in
    /// one authorization.
    func insufficientScope(_ body: [UInt8], request: Request, context: PlugboardRequestContext, caller: MCPCaller) -> Response? {
        let headers = request.headers
        guard let held = caller.scopes, let catalog = catalog(), !catalog.declaredScopes.isSubset(of: held) else { return nil }
        var targets: [(method: String, name: String)] = []
        if headers[.mcpMethod] == "tools/call", let name = headers[.mcpName] {
            targets = [("tools/call", name)]
        } else if body.count < 1 << 20, let message = try? JSONValue(parsing: body) {
            let messages: [JSONValue] = if case .array(let batch) = message { batch } else { [message] }
            targets = messages.compactMap { message in
                guard case .string(let method)? = message["method"] else { return nil }
                let key = method == "resources/read" ? "uri" : "name"
                guard ["tools/call", "resources/read", "prompts/get"].contains(method), case .string(let name)? = message["params"]?[key] else { return nil }
                return (method, name)
            }
        }
        let needed = Set(targets.flatMap { catalog.scopes(method: $0.method, name: $0.name) ?? [] })
        guard !needed.isSubset(of: held) else { return nil }
        let scope = ([ScopePolicy.base] + needed.subtracting([ScopePolicy.base]).sorted()).joined(separator: " ")
        return challenge(
            .forbidden, base: origin.base(of: request, context: context), error: "insufficient_scope", description: "this request needs the scopes \(scope)",
            scope: scope)
    }

    private func challenge(
        _ status: HTTPResponse.Status, base: String, error: String? = nil, description: String? = nil, scope: String? = nil
    ) -> Response {
        var parameters = ["resource_metadata=\"\(base)/.well-known/oauth-protected-resource/mcp\""]
        parameters.append("scope=\"\(scope ?? scopes().supported.joined(separator: " "))\"")
        if let error { parameters.append("error=\"\(error)\"") }
        if let description { parameters.append("error_description=\"\(description.replacingOccurrences(of: "\"", with: "'"))\"") }
        var body: [(key: String, value: JSONValue)] = [("error", .string(error ?? "unauthorized"))]
        if let description { body.append(("error_description", .string(description))) }
        return Response(
            status: status,
            headers: [
                .wwwAuthenticate: "Bearer " + parameters.joined(separator: ", "), .contentType: "application/json", .cacheControl: "no-store",
                // Browser-based clients must be able to read the challenge.
                .accessControlAllowOrigin: "*", .accessControlExposeHeaders: "WWW-Authenticate",
            ],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: JSONValue.object(JSONObject(body)).jsonBytes)))
    }
}
