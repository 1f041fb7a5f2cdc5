import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PlugboardAuth
import PlugboardData
import PlugboardPlugins

/// `GET /status` on the MCP port: the status page, for loopback clients and admin tokens.
struct StatusEndpoint: Sendable {
    let plugins: PluginHost
    let recorder: ToolActivityRecorder
    let store: any HostStore
    let access: StatusAccess
    let origin: PublicOrigin
    let serverName: String
    let auditEntries = 50
    let logger: Logger

    func addRoutes(to router: Router<PlugboardRequestContext>) {
        router.get("/status") { request, context in await respond(to: request, context: context) }
    }

    func respond(to request: Request, context: PlugboardRequestContext) async -> Response {
        // Behind a trusted proxy the client it forwards for, never the proxy's own loopback address.
        let client = origin.clientAddress(of: request, context: context)
        let base = origin.base(of: request, context: context)
        switch await access.decide(client: client, authorization: request.headers[.authorization], resource: base + "/mcp") {
        case .allowed:
            break
        case .unauthenticated:
            return Self.refusal(
                .unauthorized, "/status needs a loopback client or a bearer token with the \(ScopePolicy.admin) scope",
                challenge: "Bearer scope=\"\(ScopePolicy.admin)\"")
        case .forbidden:
            return Self.refusal(
                .forbidden, "/status is for loopback clients and tokens with the \(ScopePolicy.admin) scope",
                challenge: access.verifier == nil ? nil : "Bearer error=\"insufficient_scope\", scope=\"\(ScopePolicy.admin)\"")
        case .unavailable:
            return Response(status: .serviceUnavailable, headers: [.retryAfter: "1"])
        }
        var content = StatusPage.Content(
            serverName: serverName, version: PlugboardVersion.current, host: plugins.status, activity: recorder.snapshot(), audit: [], now: Date())
        do {
            content.audit = try await store.audit(limit: auditEntries, after: nil)
        } catch {
            logger.error("/status: cannot read the audit log: \(error)")
            content.auditProblem = "The audit log cannot be read right now (the server log says why)."
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/html; charset=utf-8", .contentSecurityPolicy: StatusPage.contentSecurityPolicy, .cacheControl: "no-store",
                .xContentTypeOptions: "nosniff", .referrerPolicy: "no-referrer",
            ],
            body: ResponseBody(byteBuffer: ByteBuffer(string: StatusPage.render(content))))
    }

    private static func refusal(_ status: HTTPResponse.Status, _ message: String, challenge: String?) -> Response {
        var headers: HTTPFields = [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"]
        if let challenge { headers[.wwwAuthenticate] = challenge }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: message + "\n")))
    }
}
