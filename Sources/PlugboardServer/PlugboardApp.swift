import Hummingbird
import Logging
import PlugboardAuth
import PlugboardContracts
import PlugboardData
import PlugboardMCP
import PlugboardPlugins
import ServiceLifecycle

/// The composition root: wires the plugin host, the MCP server and the HTTP transport together
/// and runs them until SIGINT/SIGTERM, then drains plugin calls.
public struct PlugboardApp: Sendable {
    public let configuration: ServerConfiguration
    public let plugins: PluginHost
    public let server: MCPServer
    public let store: any HostStore
    /// The store of the database holding the plugins' tables (the same one unless `data.url`).
    let dataStore: any HostStore
    let audit: AuditLog
    /// Whether every plugin's scoping is set up, for `/readyz`.
    let dataReadiness: any DataReadiness
    /// Nil unless `server.metrics_listen` is set: nothing on the call path records then.
    let metrics: PlugboardMetrics?
    /// Signs the caller's identity for `kind: http` plugins; its key is made on first use.
    let bridgeTokens: BridgeTokenSigner
    /// Per-tool calls of the last minutes, for `/status`.
    let toolActivity = ToolActivityRecorder()
    let logger: Logger

    /// Refuses configurations that would be unsafe to serve and opens the database.
    /// - Parameter metrics: the registry to record into when `server.metrics_listen` is set (the
    ///   `plugboard` command passes the process-wide one); without it the app makes its own.
    public init(configuration: ServerConfiguration, logger: Logger, metrics: PlugboardMetrics? = nil) throws {
        if configuration.auth.mode == .none, !configuration.listensOnLoopback {
            throw ConfigurationError(
                file: configuration.file, line: nil,
                reason: "refusing to listen on \(configuration.server.host):\(configuration.server.port) without authentication: "
                    + "with auth.mode 'none' every caller is '\(configuration.auth.localOwner)', so bind a loopback address (127.0.0.1)")
        }
        if configuration.auth.tokens.autoConsentUser != nil || configuration.auth.allowLocalClientMetadata, !configuration.listensOnLoopback {
            throw ConfigurationError(
                file: configuration.file, line: nil,
                reason: "auth.test_auto_consent and auth.test_allow_http_client_metadata weaken the authorization server for tests; "
                    + "they are refused unless the server listens on a loopback address")
        }
        if configuration.auth.mode == .external, configuration.auth.external?.audience == nil, configuration.server.publicURL == nil,
            !configuration.listensOnLoopback
        {
            throw ConfigurationError(
                file: configuration.file, line: nil,
                reason: "auth mode 'external' off loopback needs server.public_url or auth.audience: otherwise the audience tokens must carry "
                    + "would follow the request's Host header, and a token the issuer made for another service could be replayed here")
        }
        self.configuration = configuration
        self.logger = logger
        store = try Self.store(at: configuration.database, logger: logger)
        // The seed creates the plugins' tables, so it runs where they live.
        dataStore = configuration.data.location == configuration.database ? store : try Self.store(at: configuration.data.location, logger: logger)
        let data: any DataService & DataReadiness
        switch configuration.data.source {
        case .sqlite(let path):
            data = try SQLiteScopedData(path: path, logger: logger)
        case .postgres(let owner, let query, let superuser):
            data = try PostgresScopedData(query: query, owner: owner, superuser: superuser, logger: logger)
        }
        let audit = AuditLog(store: store, logger: logger)
        self.audit = audit
        dataReadiness = data
        let metrics = configuration.server.metricsListen == nil ? nil : metrics ?? PlugboardMetrics()
        self.metrics = metrics
        let bridgeTokens = BridgeTokenSigner(
            keyFile: "\(configuration.plugins.stateDirectory)/bridge-signing-key.pem",
            issuer: configuration.server.publicURL ?? "http://\(configuration.server.host):\(configuration.server.port)")
        self.bridgeTokens = bridgeTokens
        self.plugins = PluginHost(
            configuration: configuration.plugins, data: metrics.map { MeteredData(next: data, metrics: $0) } ?? data,
            audit: RecordedAudit(next: metrics.map { MeteredAudit(next: audit, metrics: $0) } ?? audit, recorder: toolActivity), logger: logger,
            tokens: BridgeTokens(signer: bridgeTokens))
        self.server = MCPServer(
            description: ServerDescription(
                name: configuration.server.name, version: PlugboardVersion.current, instructions: configuration.server.instructions,
                listsCanChange: true, listTTLMilliseconds: configuration.server.listTTLMilliseconds),
            catalogs: plugins, pageSize: configuration.server.pageSize, metrics: metrics?.mcp, logger: logger)
    }

    /// Carries out reloads for every trigger.
    var reloads: ReloadController {
        ReloadController(configuration: configuration, plugins: plugins, listChanges: server.listChanges, metrics: metrics, logger: logger)
    }

    /// The caller of every request while authentication is off.
    var localCaller: MCPCaller {
        MCPCaller(owner: configuration.auth.localOwner)
    }

    /// The host's store, for the CLI's user, client and token commands.
    public static func store(at location: DatabaseLocation, logger: Logger) throws -> any HostStore {
        switch location {
        case .sqlite(let path): try SQLiteStore(path: path)
        case .postgres(let url): try PostgresStore(location: url, logger: logger)
        }
    }

    /// Runs the seed into the plugins' database unless it ran before; nil without a seed.
    public func seed() async throws -> Bool? {
        guard let seed = configuration.data.seed else { return nil }
        return try await dataStore.seed(seed)
    }

    /// Brings the database up to date (migrations, then the seed, once) and loads the plugins.
    func start() async throws {
        for migration in try await store.migrate() { logger.info("database migrated: \(migration)") }
        if try await seed() == true, let seed = configuration.data.seed { logger.info("database seeded from \(seed)") }
        audit.start()
        await plugins.start()
    }

    /// Stops the plugins after their calls drain, then writes the last audit records.
    func stop() async {
        await plugins.shutdown()
        await audit.stop()
    }

    /// Serves HTTP until a shutdown signal arrives.
    public func runHTTP() async throws {
        try await start()
        let transport = StreamableHTTPTransport(
            server: server, policy: requestPolicy, maxBodyBytes: configuration.server.maxBodyBytes, logger: logger)
        let router = Router(context: PlugboardRequestContext.self)
        // First, so it sees every request, whatever route answers it.
        router.add(middleware: UntrustedForwardingMiddleware(forwarding: UntrustedForwarding(trustedProxies: configuration.auth.trustedProxies, logger: logger)))
        let endpoint = MCPEndpoint(transport: transport, access: try access(addingRoutesTo: router), metrics: metrics)
        // The router matches `/mcp/` here too: no redirect that would lose a POST body.
        for method: HTTPRequest.Method in [.post, .get, .delete, .put, .patch, .options, .head] {
            router.on("/mcp", method: method) { request, context in await endpoint.respond(to: request, context: context) }
        }
        router.get("/healthz") { _, _ in "ok\n" }
        bridgeTokens.addJWKSRoute(to: router)
        router.get("/readyz") { [plugins, dataReadiness] _, _ -> Response in
            plugins.currentGeneration == nil
                ? Response(status: .serviceUnavailable, body: ResponseBody(byteBuffer: ByteBuffer(string: "loading\n")))
                : dataReadiness.unready != nil
                    ? Response(status: .serviceUnavailable, body: ResponseBody(byteBuffer: ByteBuffer(string: "scoping not set up\n")))
                    : Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "ready\n")))
        }
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.server.host, port: configuration.server.port), serverName: "plugboard"),
            logger: logger)
        let admin = try AdminServer.application(socket: configuration.reload.adminSocket, controller: reloads, plugins: plugins, logger: logger)
        let hub = server.listChanges
        var metricsService: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let metrics, let listen = configuration.server.metricsListen {
            metricsService = [.init(service: MetricsServer.application(listen: listen, metrics: metrics, plugins: plugins, logger: logger))]
            logger.info("serving metrics at http://\(listen.host.contains(":") ? "[\(listen.host)]" : listen.host):\(listen.port)/metrics")
        }
        // Shut down in reverse order: close notification streams, stop reload triggers, then
        // let the HTTP servers drain their requests.
        let services = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: metricsService + [
                    .init(service: app),
                    .init(service: admin),
                    .init(service: ReloadTriggers(controller: reloads, logger: logger), successTerminationBehavior: .gracefullyShutdownGroup),
                    .init(service: NotificationStreamsShutdown { hub.closeAll() }, successTerminationBehavior: .gracefullyShutdownGroup),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        logger.info("serving MCP at http://\(configuration.server.host):\(configuration.server.port)/mcp; admin socket \(configuration.reload.adminSocket)")
        do {
            try await services.run()
        } catch {
            await stop()
            throw error
        }
        await stop()
    }

    /// Who `/mcp` requests run for; with OAuth, also serves the authorization server (built-in
    /// mode) and the protected-resource metadata on `router`.
    private func access(addingRoutesTo router: Router<PlugboardRequestContext>) throws -> MCPEndpoint.Access {
        let auth = configuration.auth
        let origin = PublicOrigin(publicURL: configuration.server.publicURL, trustedProxies: auth.trustedProxies)
        func addStatus(_ verifier: (any BearerVerifier)?) {
            StatusEndpoint(
                plugins: plugins, recorder: toolActivity, store: store, access: StatusAccess(verifier: verifier, logger: logger), origin: origin,
                serverName: configuration.server.name, logger: logger
            ).addRoutes(to: router)
        }
        let scopes: @Sendable () -> ScopePolicy = { [plugins] in
            let catalog = plugins.currentGeneration?.catalog
            return ScopePolicy(toolScopes: catalog?.declaredScopes ?? [], descriptions: catalog?.scopeDescriptions ?? [:])
        }
        let verifier: any BearerVerifier
        let authorizationServer: @Sendable (String) -> String
        switch auth.mode {
        case .none:
            addStatus(nil)
            return .local(localCaller)
        case .external:
            guard let issuer = auth.external else {
                throw ConfigurationError(file: configuration.file, line: nil, reason: "auth mode 'external' needs auth.issuer")
            }
            verifier = ExternalTokenVerifier(issuer: issuer, cacheSeconds: auth.tokenCacheSeconds, logger: logger)
            authorizationServer = { _ in issuer.issuer }
        case .oauth:
            let tokens = TokenVerifier(store: store.auth, cacheSeconds: auth.tokenCacheSeconds)
            let documents = ClientMetadataDocuments(store: store.auth, reach: .init(allowLocal: auth.allowLocalClientMetadata), logger: logger)
            let server = AuthorizationServer(store: store.auth, settings: auth.tokens, verifier: tokens, documents: documents, logger: logger)
            OAuthEndpoints(server: server, sessions: LoginSessions(), origin: origin, serverName: configuration.server.name, scopes: scopes, logger: logger)
                .addRoutes(to: router)
            verifier = tokens
            authorizationServer = { base in base }
        }
        let gate = ResourceGate(
            verifier: verifier, authorizationServer: authorizationServer, origin: origin, serverName: configuration.server.name, scopes: scopes,
            catalog: { [plugins] in plugins.currentGeneration?.catalog }, requiresBaseScope: auth.requireScope, logger: logger)
        gate.addRoutes(to: router)
        addStatus(verifier)
        return .bearer(gate)
    }

    /// Browser origins and host names the MCP endpoint accepts.
    var requestPolicy: HTTPRequestPolicy {
        var origins = Set(configuration.server.allowedOrigins)
        var hosts = Set(configuration.server.allowedHosts)
        if let publicURL = configuration.server.publicURL {
            origins.insert(publicURL)
            if let host = publicURL.split(separator: "/").dropFirst().first {
                hosts.insert(HTTPRequestPolicy.stripPort(String(host)))
            }
        }
        // A loopback bind only answers to loopback names (and configured ones): a DNS-rebinding page
        // cannot reach it under its own name.
        let allowedHosts = configuration.listensOnLoopback ? HTTPRequestPolicy.loopbackHosts.union(hosts) : nil
        return HTTPRequestPolicy(allowedOrigins: origins, allowLoopbackOrigins: true, allowedHosts: allowedHosts)
    }
}

/// The host's version, reported as serverInfo.version.
public enum PlugboardVersion {
    public static let current = "0.1.0"
}
