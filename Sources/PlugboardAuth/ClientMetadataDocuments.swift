import Foundation
import Logging
import PlugboardData
import PlugboardJSON
import Synchronization

/// Clients identified by the URL of their metadata document (draft-ietf-oauth-client-id-metadata-document):
/// Claude's `https://claude.ai/oauth/mcp-oauth-client-metadata`. The document is fetched with
/// `OutboundHTTP.fetchUntrusted`, validated, cached and mirrored into the store so that grants
/// and the token endpoint treat it like any other client.
public final class ClientMetadataDocuments: Sendable {
    private struct Cached {
        var client: ClientRecord
        var until: ContinuousClock.Instant
    }

    private let store: AuthStore
    private let http: OutboundHTTP
    private let reach: OutboundHTTP.Reach
    private let cache = Mutex<[String: Cached]>([:])
    /// By client_id: one fetch per document however many sign-ins wait for it, a refused
    /// document refused from memory for half a minute, and a bound on fetches under way.
    private let fetches = SharedFetches<(ClientRecord, Duration)>(
        limit: 16, remembering: { ($0 as? FetchError)?.lasting == true }, for: .seconds(30))
    private let logger: Logger

    public init(store: AuthStore, reach: OutboundHTTP.Reach, logger: Logger) {
        self.store = store
        self.http = OutboundHTTP(maxBytes: 16 * 1024, timeout: .seconds(5))
        self.reach = reach
        self.logger = logger
    }

    /// True for a client_id this class answers for: a URL with a path.
    public func handles(_ clientID: String) -> Bool {
        clientID.hasPrefix("https://") || (reach.allowLocal && clientID.hasPrefix("http://"))
    }

    /// The client a document describes, or why it cannot be used (for the error page).
    public func client(_ clientID: String) async -> Result<ClientRecord, FetchError> {
        if let cached = cache.withLock({ $0[clientID] }), cached.until > .now { return .success(cached.client) }
        do {
            let (client, lifetime) = try await fetches.value(for: clientID) { try await self.fetch(clientID) }
            try await store.upsertClient(client)
            cache.withLock { entries in
                if entries.count > 1000 { entries.removeAll() }
                entries[clientID] = Cached(client: client, until: .now + lifetime)
            }
            return .success(client)
        } catch let error as FetchError {
            logger.notice("client metadata document refused: \(error)")
            return .failure(error)
        } catch is SharedFetches<(ClientRecord, Duration)>.Busy {
            return .failure(FetchError("too many client metadata documents are being fetched at once; try again in a moment"))
        } catch {
            logger.error("cannot store a client metadata document's client: \(error)")
            return .failure(FetchError("the client could not be stored"))
        }
    }

    private func fetch(_ clientID: String) async throws -> (ClientRecord, Duration) {
        guard clientID.utf8.count <= 2048, let components = URLComponents(string: clientID), !components.path.isEmpty, components.path != "/",
            components.query == nil, !components.path.split(separator: "/").contains(where: { $0 == "." || $0 == ".." })
        else {
            throw FetchError("client_id \(clientID.prefix(200)) must be an https URL of at most 2 KiB with a path, no query and no dot segments", lasting: true)
        }
        let reply = try await http.fetchUntrusted(clientID, reach: reach)
        guard reply.status == 200 else {
            // A redirect or a 4xx is the document's answer; a 5xx or a 429 may be over in a moment.
            throw FetchError(
                "\(clientID) answered HTTP \(reply.status), not 200 (redirects are not followed)", lasting: reply.status < 500 && reply.status != 429)
        }
        guard let document = try? JSONValue(parsing: reply.body), case .object(let fields) = document else {
            throw FetchError("\(clientID) is not a JSON object", lasting: true)
        }
        guard fields["client_id"] == .string(clientID) else { throw FetchError("the document's client_id is not its own URL \(clientID)", lasting: true) }
        guard case .array(let values)? = fields["redirect_uris"], !values.isEmpty else { throw FetchError("the document lists no redirect_uris", lasting: true) }
        var redirectURIs: [String] = []
        for value in values {
            guard case .string(let uri) = value, RedirectURI.isAllowed(uri) else { throw FetchError("the document's redirect URI \(value) is not allowed", lasting: true) }
            redirectURIs.append(uri)
        }
        if fields["client_secret"] != nil { throw FetchError("a client metadata document must not carry a client_secret", lasting: true) }
        if let method = fields["token_endpoint_auth_method"], method != .string("none") {
            throw FetchError("token_endpoint_auth_method \(method) is not allowed for a metadata document client; use none", lasting: true)
        }
        let name: String = if case .string(let given)? = fields["client_name"], !given.isEmpty { String(given.prefix(200)) } else { components.host ?? clientID }
        let client = ClientRecord(
            id: clientID, name: name, redirectURIs: redirectURIs, origin: .metadata, createdAt: Int64(Date().timeIntervalSince1970))
        return (client, Self.lifetime(reply.headers.first(name: "Cache-Control")))
    }

    /// Honours `max-age` between five minutes and a day; an hour otherwise.
    static func lifetime(_ cacheControl: String?) -> Duration {
        guard let cacheControl else { return .seconds(3600) }
        for directive in cacheControl.split(separator: ",") {
            let parts = directive.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "max-age", let seconds = Int(parts[1]) {
                return .seconds(min(max(seconds, 300), 86_400))
            }
            if parts.first?.lowercased() == "no-store" || parts.first?.lowercased() == "no-cache" { return .seconds(300) }
        }
        return .seconds(3600)
    }
}
