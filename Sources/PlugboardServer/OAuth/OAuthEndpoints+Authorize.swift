import Foundation
import HTTPTypes
import Hummingbird
import PlugboardAuth

/// The authorization pages: `/authorize`, the sign-in form and the consent form.
extension OAuthEndpoints {
    func authorize(_ request: Request, context: PlugboardRequestContext) async -> Response {
        let base = origin.base(of: request, context: context)
        guard authorizations.allow(origin.clientAddress(of: request, context: context)) else {
            return page(.tooManyRequests, AuthorizePages.error(serverName: serverName, "Too many authorization requests from your address; wait a minute."), base: base)
        }
        let query: [String: String]
        do {
            query = try FormFields.parse(request.uri.query ?? "")
        } catch {
            return page(.badRequest, AuthorizePages.error(serverName: serverName, "The parameter \(error.name) appears more than once."), base: base)
        }
        let check: AuthorizationCheck
        do {
            check = try await server.check(query, resource: base + "/mcp", scopes: scopes())
        } catch {
            return serverError(error)
        }
        switch check {
        case .refuse(let message):
            return page(.badRequest, AuthorizePages.error(serverName: serverName, message), base: base)
        case .unavailable(let message):
            var response = page(.serviceUnavailable, AuthorizePages.error(serverName: serverName, message), base: base)
            response.headers[.retryAfter] = "5"
            return response
        case .redirectError(let redirectURI, let state, let error):
            return redirect(redirectURI, ["error": error.code, "error_description": error.description, "state": state, "iss": base], status: .found)
        case .valid(let authorization):
            if let user = server.settings.autoConsentUser {
                return await grant(authorization, user: user, base: base, status: .found)
            }
            let requestID = sessions.add(authorization)
            if let user = request.cookies[cookieName("session", base: base)].flatMap({ sessions.user(ofSession: $0.value) }) {
                sessions.setUser(user, for: requestID)
                return await consentOrGrant(requestID: requestID, authorization: authorization, user: user, request: request, base: base)
            }
            let csrf = csrfToken(request, base: base)
            var response = page(
                .ok, AuthorizePages.login(serverName: serverName, request: authorization, requestID: requestID, csrf: csrf), base: base)
            response.setCookie(cookie("csrf", csrf, base: base))
            return response
        }
    }

    func login(_ request: Request, context: PlugboardRequestContext) async -> Response {
        let base = origin.base(of: request, context: context)
        guard let (form, pending, requestID) = await formOfPendingRequest(request, base: base) else {
            return page(.forbidden, AuthorizePages.error(serverName: serverName, Self.staleForm), base: base)
        }
        let name = form["username", default: ""].trimmingCharacters(in: .whitespaces)
        let password = form["password", default: ""]
        let peer = origin.clientAddress(of: request, context: context)
        func loginAgain(_ status: HTTPResponse.Status, _ message: String) -> Response {
            page(
                status,
                AuthorizePages.login(
                    serverName: serverName, request: pending.request, requestID: requestID, csrf: csrfToken(request, base: base), message: message),
                base: base)
        }
        guard throttle.begin(user: name, peer: peer) else {
            logger.notice("login refused: too many failed attempts", metadata: ["user": "\(name)", "peer": "\(peer)"])
            return loginAgain(.tooManyRequests, "Too many failed sign-ins. Wait a few minutes and try again.")
        }
        let user: String?
        do {
            let record = try await server.store.user(name)
            // Verify against a decoy for unknown names so the time taken does not reveal which exist.
            let matches = try await Passwords.verify(password, hash: record?.passwordHash ?? Passwords.decoy)
            user = matches && record?.disabled == false ? record?.name : nil
        } catch {
            return serverError(error)
        }
        guard let user else {
            logger.notice("login failed", metadata: ["user": "\(name)", "peer": "\(peer)"])
            return loginAgain(.unauthorized, "Wrong user name or password.")
        }
        throttle.succeeded(user: name, peer: peer)
        sessions.setUser(user, for: requestID)
        var response = await consentOrGrant(requestID: requestID, authorization: pending.request, user: user, request: request, base: base)
        response.setCookie(cookie("session", sessions.startSession(for: user), base: base))
        return response
    }

    func consent(_ request: Request, context: PlugboardRequestContext) async -> Response {
        let base = origin.base(of: request, context: context)
        guard let (form, pending, requestID) = await formOfPendingRequest(request, base: base), let user = pending.user,
            request.cookies[cookieName("session", base: base)].flatMap({ sessions.user(ofSession: $0.value) }) == user,
            let finished = sessions.finish(requestID)
        else {
            return page(.forbidden, AuthorizePages.error(serverName: serverName, Self.staleForm), base: base)
        }
        let authorization = finished.request
        guard form["decision"] == "allow" else {
            logger.info("authorization denied by the user", metadata: ["user": "\(user)", "client": "\(authorization.client.id)"])
            return redirect(
                authorization.redirectURI,
                ["error": "access_denied", "error_description": "the user denied access", "state": authorization.state, "iss": base])
        }
        do {
            try await server.store.rememberConsent(
                owner: user, clientID: authorization.client.id, scopes: authorization.scopes, at: Int64(Date().timeIntervalSince1970))
        } catch {
            return serverError(error)
        }
        return await grant(authorization, user: user, base: base)
    }

    /// The consent page, or straight back to the client when this user already allowed it these scopes.
    func consentOrGrant(requestID: String, authorization: AuthorizationRequest, user: String, request: Request, base: String) async -> Response {
        do {
            if try await server.store.hasConsent(owner: user, clientID: authorization.client.id, scopes: authorization.scopes) {
                guard sessions.finish(requestID) != nil else {
                    return page(.forbidden, AuthorizePages.error(serverName: serverName, Self.staleForm), base: base)
                }
                return await grant(authorization, user: user, base: base)
            }
        } catch {
            return serverError(error)
        }
        let csrf = csrfToken(request, base: base)
        var response = page(
            .ok, AuthorizePages.consent(
                serverName: serverName, request: authorization, user: user, requestID: requestID, csrf: csrf, descriptions: scopes().descriptions),
            base: base)
        response.setCookie(cookie("csrf", csrf, base: base))
        return response
    }

    /// Back to the client with a code: 303 after a form post, 302 from GET /authorize.
    func grant(_ authorization: AuthorizationRequest, user: String, base: String, status: HTTPResponse.Status = .seeOther) async -> Response {
        do {
            let code = try await server.issueCode(authorization, owner: user)
            return redirect(authorization.redirectURI, ["code": code, "state": authorization.state, "iss": base], status: status)
        } catch {
            return serverError(error)
        }
    }

    /// A posted form whose CSRF token matches the browser's cookie and whose request is still pending.
    func formOfPendingRequest(_ request: Request, base: String) async -> ([String: String], LoginSessions.Pending, String)? {
        var request = request
        guard let body = try? await request.collectBody(upTo: 16 * 1024), let form = try? FormFields.parse(String(buffer: body)),
            let sent = form["csrf_token"], let expected = request.cookies[cookieName("csrf", base: base)]?.value,
            Secrets.constantTimeEquals(sent, expected), let requestID = form["request"], let pending = sessions.pending(requestID)
        else { return nil }
        return (form, pending, requestID)
    }

    static let staleForm =
        "This sign-in form has expired or was not sent from this site (its security token is missing or wrong). Go back to the application and connect again."

    // MARK: page responses

    func redirect(_ uri: String, _ parameters: [String: String?], status: HTTPResponse.Status = .seeOther) -> Response {
        let query = parameters.sorted { $0.key < $1.key }.compactMap { key, value in value.map { "\(key)=\(FormFields.encode($0))" } }
            .joined(separator: "&")
        let separator = uri.contains("?") ? "&" : "?"
        return Response(
            status: status, headers: [.location: uri + separator + query, .cacheControl: "no-store", .referrerPolicy: "no-referrer"])
    }

    func page(_ status: HTTPResponse.Status, _ html: String, base: String) -> Response {
        Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store", .xFrameOptions: "DENY",
                .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
                .referrerPolicy: "no-referrer", .xContentTypeOptions: "nosniff",
            ],
            body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }

    /// Cookies are `__Host-` prefixed and Secure behind https; plain loopback http cannot carry Secure ones.
    func cookieName(_ name: String, base: String) -> String {
        base.hasPrefix("https://") ? "__Host-plugboard_\(name)" : "plugboard_\(name)"
    }

    func cookie(_ name: String, _ value: String, base: String) -> Cookie {
        Cookie(
            name: cookieName(name, base: base), value: value, maxAge: name == "session" ? 12 * 3600 : 3600, path: "/",
            secure: base.hasPrefix("https://"), httpOnly: true, sameSite: .lax)
    }

    /// The browser's CSRF token, or a new one.
    func csrfToken(_ request: Request, base: String) -> String {
        request.cookies[cookieName("csrf", base: base)]?.value ?? Secrets.make(prefix: "")
    }
}
