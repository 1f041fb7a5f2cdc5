import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PlugboardAuth
import PlugboardJSON

/// The authorization server's HTTP side: discovery, registration, the token and revocation
/// endpoints; the authorization pages are in OAuthEndpoints+Authorize.swift.
struct OAuthEndpoints: Sendable {
    let server: AuthorizationServer
    let sessions: LoginSessions
    let throttle = LoginThrottle()
    let registrations = RateLimit(limit: 20, per: .seconds(60))
    /// Each authorization request may cost a stored pending request and a metadata document fetch.
    let authorizations = RateLimit(limit: 300, per: .seconds(60))
    let origin: PublicOrigin
    let serverName: String
    let scopes: @Sendable () -> ScopePolicy
    let logger: Logger

    func addRoutes(to router: Router<PlugboardRequestContext>) {
        for path in ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"] {
            router.get(RouterPath(path)) { request, context in
                Self.json(.ok, metadata(base: origin.base(of: request, context: context)), cors: true)
            }
        }
        router.post("/register") { request, context in await register(request, context: context) }
        router.get("/authorize") { request, context in await authorize(request, context: context) }
        router.post("/authorize/login") { request, context in await login(request, context: context) }
        router.post("/authorize/consent") { request, context in await consent(request, context: context) }
        router.post("/token") { request, context in await token(request, context: context) }
        router.post("/revoke") { request, context in await revoke(request, context: context) }
        // Browser-based clients (the MCP Inspector) call these cross-origin.
        for path in ["/register", "/token", "/revoke", "/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"] {
            router.on(RouterPath(path), method: .options) { _, _ in Self.preflight() }
        }
    }

    /// RFC 8414 metadata (served under the OpenID discovery name too).
    func metadata(base: String) -> JSONValue {
        .object(
            JSONObject([
                ("issuer", .string(base)),
                ("authorization_endpoint", .string(base + "/authorize")),
                ("token_endpoint", .string(base + "/token")),
                ("registration_endpoint", .string(base + "/register")),
                ("revocation_endpoint", .string(base + "/revoke")),
                ("response_types_supported", ["code"]),
                ("response_modes_supported", ["query"]),
                ("grant_types_supported", ["authorization_code", "refresh_token"]),
                ("code_challenge_methods_supported", ["S256"]),
                ("token_endpoint_auth_methods_supported", ["none"]),
                ("revocation_endpoint_auth_methods_supported", ["none"]),
                ("scopes_supported", .array(scopes().supported.map(JSONValue.string))),
                ("authorization_response_iss_parameter_supported", true),
                ("client_id_metadata_document_supported", .bool(server.documents != nil)),
            ]))
    }

    // MARK: registration

    func register(_ request: Request, context: PlugboardRequestContext) async -> Response {
        let client = origin.clientAddress(of: request, context: context)
        guard registrations.allow(client) else {
            return Self.oauthError(OAuthError("too_many_requests", "too many registrations from this address; wait a minute", status: 429))
        }
        var request = request
        guard let body = try? await request.collectBody(upTo: 16 * 1024), let metadata = try? JSONValue(parsing: body.readableBytesView) else {
            return Self.oauthError(OAuthError("invalid_client_metadata", "the body must be a JSON object of at most 16 KiB"))
        }
        do {
            let (registered, response) = try await server.register(metadata, scopes: scopes())
            logger.info("client registered", metadata: ["client": "\(registered.id)", "name": "\(registered.name)", "peer": "\(client)"])
            return Self.json(.created, response, cors: true)
        } catch let error as OAuthError {
            return Self.oauthError(error)
        } catch {
            return serverError(error)
        }
    }

    // MARK: tokens

    func token(_ request: Request, context: PlugboardRequestContext) async -> Response {
        var request = request
        guard let body = try? await request.collectBody(upTo: 64 * 1024) else {
            return Self.oauthError(.invalidRequest("the body must be a form of at most 64 KiB"))
        }
        let form: [String: String]
        do {
            form = try FormFields.parse(String(buffer: body))
        } catch {
            return Self.oauthError(.invalidRequest("the parameter \(error.name) appears more than once"))
        }
        do {
            let grant = try await server.token(form, resource: origin.base(of: request, context: context) + "/mcp")
            var fields: [(key: String, value: JSONValue)] = [
                ("access_token", .string(grant.accessToken)), ("token_type", "Bearer"), ("expires_in", .int(grant.expiresIn)),
                ("scope", .string(grant.scopes.joined(separator: " "))),
            ]
            if let refresh = grant.refreshToken { fields.append(("refresh_token", .string(refresh))) }
            return Self.json(.ok, .object(JSONObject(fields)), cors: true)
        } catch let error as OAuthError {
            logger.info("token request refused: \(error.code): \(error.description)", metadata: ["peer": "\(context.peer)"])
            return Self.oauthError(error)
        } catch {
            return serverError(error)
        }
    }

    func revoke(_ request: Request, context: PlugboardRequestContext) async -> Response {
        var request = request
        guard let body = try? await request.collectBody(upTo: 16 * 1024), let form = try? FormFields.parse(String(buffer: body)),
            let token = form["token"]
        else {
            return Self.oauthError(.invalidRequest("token is required"))
        }
        do {
            try await server.revoke(token: token)
        } catch {
            return serverError(error)
        }
        return Self.json(.ok, .object(JSONObject()), cors: true)
    }

    // MARK: responses

    func serverError(_ error: any Error) -> Response {
        logger.error("authorization server failure: \(error)")
        return Self.oauthError(OAuthError("server_error", "the authorization server failed; see its log", status: 500))
    }

    static func oauthError(_ error: OAuthError) -> Response {
        json(
            HTTPResponse.Status(code: error.status),
            .object(JSONObject([("error", .string(error.code)), ("error_description", .string(error.description))])), cors: true)
    }

    static func json(_ status: HTTPResponse.Status, _ value: JSONValue, cors: Bool = false) -> Response {
        var headers: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store", .pragma: "no-cache"]
        if cors { headers[.accessControlAllowOrigin] = "*" }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: value.jsonBytes)))
    }

    static func preflight() -> Response {
        Response(
            status: .noContent,
            headers: [
                .accessControlAllowOrigin: "*", .accessControlAllowMethods: "GET, POST, OPTIONS",
                .accessControlAllowHeaders: "Content-Type, Authorization, MCP-Protocol-Version", .accessControlMaxAge: "600",
            ])
    }
}
