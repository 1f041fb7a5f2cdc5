import Foundation
import JWTKit
import Logging
import NIOHTTP1
import PlugboardData
import PlugboardJSON
import Synchronization

/// Where access tokens come from when another server (Keycloak, Auth0, Okta, Entra,
/// django-oauth-toolkit, ...) is the authorization server.
public struct ExternalIssuer: Sendable, Equatable {
    public struct Introspection: Sendable, Equatable {
        /// How this server authenticates to the introspection endpoint (RFC 6749 §2.3.1).
        public enum ClientAuthentication: String, Sendable, Equatable {
            /// HTTP Basic with the form-encoded client id and secret.
            case basic = "client_secret_basic"
            /// The client id and secret as form fields of the request body.
            case post = "client_secret_post"
        }

        public var url: String
        public var clientID: String
        public var clientSecret: String
        public var authentication: ClientAuthentication

        public init(url: String, clientID: String, clientSecret: String, authentication: ClientAuthentication = .basic) {
            self.url = url
            self.clientID = clientID
            self.clientSecret = clientSecret
            self.authentication = authentication
        }
    }

    /// The `iss` of its tokens, and what the protected-resource metadata names.
    public var issuer: String
    /// Where its signing keys are; nil discovers them from the issuer's metadata.
    public var jwksURL: String?
    /// RFC 7662 introspection instead of JWT validation (opaque tokens).
    public var introspection: Introspection?
    /// The `aud` tokens must carry; nil means this server's resource URL.
    public var audience: String?
    /// The claim holding the owner of the caller's rows: a name, or a dotted path into nested
    /// claims (`user.id`).
    public var ownerClaim: String
    /// Clients whose tokens are accepted without an audience: issuers bind one only when the
    /// client asks (RFC 8707 `resource`; django-oauth-toolkit, for one) or not at all. Any other
    /// unbound token is refused: it may have been granted to another application of the issuer.
    public var allowedClients: Set<String>

    public init(
        issuer: String, jwksURL: String? = nil, introspection: Introspection? = nil, audience: String? = nil, ownerClaim: String = "sub",
        allowedClients: Set<String> = []
    ) {
        self.issuer = issuer
        self.jwksURL = jwksURL
        self.introspection = introspection
        self.audience = audience
        self.ownerClaim = ownerClaim
        self.allowedClients = allowedClients
    }
}

/// Verifies another issuer's access tokens: JWTs against its JWKS (signature, `iss`, `aud`, `exp`,
/// `nbf`), or opaque tokens by introspection. Verified tokens are cached like the built-in ones.
public final class ExternalTokenVerifier: BearerVerifier {
    private struct Entry {
        var record: AccessRecord
        var until: ContinuousClock.Instant
    }

    public let issuer: ExternalIssuer
    private let http = OutboundHTTP(maxBytes: 256 * 1024, timeout: .seconds(5))
    private let keys = Mutex<(collection: JWTKeyCollection?, fetched: ContinuousClock.Instant?)>((nil, nil))
    /// Requests that need the keys at once share one fetch; for 5 s after a failed one, requests
    /// fail fast instead of each fetching again.
    private let keyFetches = SharedFetches<JWTKeyCollection>(limit: 1, remembering: { _ in true }, for: .seconds(5))
    private let cache = Mutex<[String: Entry]>([:])
    /// By token digest: requests carrying one new token share one introspection, and a token the
    /// issuer called inactive is not sent again while cached.
    private let introspections: SharedFetches<[String: JSONValue]>
    private let cacheSeconds: Int
    private let logger: Logger
    /// Clock skew tolerated on `exp` and `nbf`.
    private static let leeway: Int64 = 30

    public init(issuer: ExternalIssuer, cacheSeconds: Int, logger: Logger) {
        self.issuer = issuer
        self.cacheSeconds = cacheSeconds
        self.introspections = SharedFetches(limit: 16, remembering: { $0 is IntrospectionRefusal }, for: .seconds(cacheSeconds))
        self.logger = logger
    }

    public func verify(_ token: String, resource: String) async throws -> BearerOutcome {
        // The audience was checked against `resource`: a cached answer holds for that resource only.
        let digest = Secrets.digest(token) + " " + resource
        let now = ContinuousClock.now
        if let cached = cache.withLock({ $0[digest] }), cached.until > now {
            if let expiresAt = cached.record.expiresAt, expiresAt < Int64(Date().timeIntervalSince1970) { return .invalid("token expired") }
            return .valid(cached.record)
        }
        let claims: [String: JSONValue]
        do {
            claims = try await issuer.introspection != nil ? introspection(of: token) : decode(token)
        } catch is SharedFetches<[String: JSONValue]>.Busy {
            throw VerifierBusy()
        } catch let error as FetchError {
            // The issuer is unreachable: not the client's fault, but nothing can be verified.
            logger.error("cannot verify tokens of \(issuer.issuer): \(error)")
            throw error
        } catch {
            return .invalid("\(error)")
        }
        let outcome = check(claims, resource: resource)
        if case .valid(let record) = outcome {
            cache.withLock { entries in
                if entries.count >= 50_000 { entries.removeAll(keepingCapacity: true) }
                entries[digest] = Entry(record: record, until: now.advanced(by: .seconds(cacheSeconds)))
            }
        }
        return outcome
    }

    /// The claims every token must satisfy, whichever way they were obtained.
    func check(_ claims: [String: JSONValue], resource: String) -> BearerOutcome {
        let now = Int64(Date().timeIntervalSince1970)
        if let iss = claims["iss"], iss != .string(issuer.issuer) { return .invalid("issuer \(iss) is not \(issuer.issuer)") }
        if claims["iss"] == nil, issuer.introspection == nil { return .invalid("the token has no iss claim") }
        guard let exp = Self.number(claims["exp"]) else { return .invalid("the token has no exp claim") }
        guard exp >= now - Self.leeway else { return .invalid("token expired") }
        if let nbf = Self.number(claims["nbf"]), nbf > now + Self.leeway { return .invalid("token not valid yet") }
        var client = ""
        if case .string(let azp)? = claims["azp"] ?? claims["client_id"] { client = azp }
        // RFC 9068 and RFC 7662 put the audience in `aud`; some issuers name the RFC 8707 resource.
        let audiences = Self.strings(claims["aud"]) + Self.strings(claims["resource"])
        let expected = issuer.audience ?? resource
        if audiences.isEmpty {
            guard issuer.allowedClients.contains(client) else {
                return .invalid(
                    "the token is bound to no audience and its client '\(client)' is not in auth.allowed_clients "
                        + "(a token the user granted to another application of \(issuer.issuer))")
            }
        } else if !audiences.contains(where: { ResourceIdentifier.matches($0, canonical: expected) }) {
            return .invalid("the token's audience \(audiences) is not \(expected)")
        }
        let owner: String
        switch Self.claim(at: issuer.ownerClaim, in: claims) {
        case .string(let text)? where !text.isEmpty: owner = text
        case .int(let number)?: owner = String(number)
        case .double(let number)? where number.rounded() == number && abs(number) < 1e15: owner = String(Int64(number))
        case let value?:
            return .invalid("the token's \(issuer.ownerClaim) claim is \(Self.kind(of: value)), not a string or an integer to take the owner from")
        case nil:
            return .invalid(
                "the token has no \(issuer.ownerClaim) claim to take the owner from (set auth.owner_claim); "
                    + "its claims are: \(claims.keys.sorted().joined(separator: ", "))")
        }
        let scopes: [String] =
            switch claims["scope"] ?? claims["scp"] {
            case .string(let text): text.split(separator: " ").map(String.init)
            case .array(let values): values.compactMap { if case .string(let value) = $0 { value } else { nil } }
            default: []
            }
        return .valid(
            AccessRecord(grantID: "", owner: owner, clientID: client, scopes: scopes, resource: "", expiresAt: exp, active: true))
    }

    /// The claim named `path` itself, or else the value at that dotted path through nested
    /// objects (`user.id`); a claim named like a URL (`https://example.com/uid`) is found whole.
    static func claim(at path: String, in claims: [String: JSONValue]) -> JSONValue? {
        if let whole = claims[path] { return whole }
        let parts = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count > 1, var value = claims[parts[0]] else { return nil }
        for part in parts.dropFirst() {
            guard case .object(let object) = value, let next = object[part] else { return nil }
            value = next
        }
        return value
    }

    private static func strings(_ value: JSONValue?) -> [String] {
        switch value {
        case .string(let one): [one]
        case .array(let many): many.compactMap { if case .string(let value) = $0 { value } else { nil } }
        default: []
        }
    }

    private static func kind(of value: JSONValue) -> String {
        switch value {
        case .object: "an object"
        case .array: "an array"
        case .bool: "a boolean"
        case .null: "null"
        case .double: "a fractional number"
        default: "empty"
        }
    }

    private static func number(_ value: JSONValue?) -> Int64? {
        switch value {
        case .int(let number): number
        // Clamped: a value past Int64 (or NaN) must not trap.
        case .double(let number): number.isNaN ? nil : Int64(exactly: number.rounded(.down)) ?? (number > 0 ? .max : .min)
        default: nil
        }
    }

    // MARK: JWT

    private func decode(_ token: String) async throws -> [String: JSONValue] {
        let collection = try await keyCollection(refresh: false)
        do {
            return try await collection.verify(token, as: AllClaims.self).claims
        } catch {
            // A key the issuer rotated in since the last fetch: fetch again, at most every 30 s.
            guard let fetched = keys.withLock({ $0.fetched }), ContinuousClock.now - fetched > .seconds(30) else { throw error }
            return try await keyCollection(refresh: true).verify(token, as: AllClaims.self).claims
        }
    }

    private func keyCollection(refresh: Bool) async throws -> JWTKeyCollection {
        if !refresh, let collection = keys.withLock({ $0.collection }) { return collection }
        return try await keyFetches.value(for: "keys") { try await self.fetchKeys() }
    }

    private func fetchKeys() async throws -> JWTKeyCollection {
        let collection = JWTKeyCollection()
        let url = try await jwksURL()
        let reply = try await http.fetch(url)
        guard reply.status == 200 else { throw FetchError("the JWKS at \(url) answered HTTP \(reply.status)") }
        do {
            try await collection.add(jwksJSON: String(decoding: reply.body, as: UTF8.self))
        } catch {
            throw FetchError("the JWKS at \(url) cannot be read: \(error)")
        }
        keys.withLock { $0 = (collection, .now) }
        logger.info("signing keys of \(issuer.issuer) loaded from \(url)")
        return collection
    }

    private func jwksURL() async throws -> String {
        if let configured = issuer.jwksURL { return configured }
        let base = issuer.issuer.hasSuffix("/") ? String(issuer.issuer.dropLast()) : issuer.issuer
        for path in ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"] {
            guard let reply = try? await http.fetch(base + path), reply.status == 200, let metadata = try? JSONValue(parsing: reply.body),
                case .string(let uri)? = metadata["jwks_uri"]
            else { continue }
            return uri
        }
        throw FetchError("\(issuer.issuer) publishes no jwks_uri in its metadata; set auth.jwks_url")
    }

    // MARK: introspection

    private func introspection(of token: String) async throws -> [String: JSONValue] {
        try await introspections.value(for: Secrets.digest(token)) { try await self.introspect(token) }
    }

    private func introspect(_ token: String) async throws -> [String: JSONValue] {
        guard let introspection = issuer.introspection else { return [:] }
        var form = [("token", token), ("token_type_hint", "access_token")]
        var headers: HTTPHeaders = ["Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"]
        switch introspection.authentication {
        case .basic:
            // RFC 6749 §2.3.1: both parts form-encoded before Base64, so a secret with '+', '%' or ':' survives.
            let credentials = FormFields.encode(introspection.clientID) + ":" + FormFields.encode(introspection.clientSecret)
            headers.add(name: "Authorization", value: "Basic \(Data(credentials.utf8).base64EncodedString())")
        case .post:
            form += [("client_id", introspection.clientID), ("client_secret", introspection.clientSecret)]
        }
        let reply = try await http.fetch(introspection.url, method: .POST, headers: headers, body: Array(FormFields.encode(form).utf8))
        guard reply.status == 200, let answer = try? JSONValue(parsing: reply.body), case .object(let fields) = answer else {
            throw FetchError("the introspection endpoint \(introspection.url) answered HTTP \(reply.status)")
        }
        guard fields["active"] == .bool(true) else { throw IntrospectionRefusal() }
        return Dictionary(fields.entries.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
    }

    private struct IntrospectionRefusal: Error, CustomStringConvertible {
        var description: String { "the issuer says the token is not active" }
    }

}

/// Every claim of a verified JWT; the checks happen in `ExternalTokenVerifier.check`.
private struct AllClaims: JWTPayload {
    var claims: [String: JSONValue]

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        claims = try container.decode([String: ClaimValue].self).mapValues(\.json)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode([String: String]())
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// A claim as JSON: strings, numbers, booleans, and arrays and objects of them.
private struct ClaimValue: Decodable {
    var json: JSONValue

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let string = try? container.decode(String.self) {
            json = .string(string)
        } else if let int = try? container.decode(Int64.self) {
            json = .int(int)
        } else if let double = try? container.decode(Double.self) {
            json = .double(double)
        } else if let bool = try? container.decode(Bool.self) {
            json = .bool(bool)
        } else if let array = try? container.decode([ClaimValue].self) {
            json = .array(array.map(\.json))
        } else if let object = try? container.decode([String: ClaimValue].self) {
            json = .object(JSONObject(object.sorted { $0.key < $1.key }.map { ($0.key, $0.value.json) }))
        } else {
            json = .null
        }
    }
}
