import Logging
import PlugboardAuth
import PlugboardPlugins

/// Everything `config.yaml` says. Paths are already resolved against the file's folder.
public struct ServerConfiguration: Sendable {
    public var file: String
    public var server: Server
    public var auth: Auth
    public var plugins: PluginHostConfiguration
    /// Where the host keeps its state (audit; users, clients and tokens with OAuth).
    public var database: DatabaseLocation
    public var data: PluginDataConfiguration
    public var reload: Reload
    public var logLevel: Logger.Level
    /// How log lines are written: text for people, JSON for log collectors.
    public var logFormat: LogFormat = .text

    /// How the running server follows changes to plugins and config.yaml.
    public struct Reload: Sendable, Equatable {
        /// Watch the plugins folder and config.yaml and reload on change (staging); off, reload
        /// only on SIGHUP or `plugboard reload` (production).
        public var watch: Bool
        /// How long files must be quiet before a change is loaded.
        public var debounceMilliseconds: Int
        /// The admin socket `plugboard reload` and `plugboard status` talk to.
        public var adminSocket: String
    }

    public struct Server: Sendable {
        public var host: String
        public var port: Int
        /// The URL clients use when a proxy sits in front (issuer and resource URLs follow it).
        public var publicURL: String?
        /// Browser origins allowed besides localhost.
        public var allowedOrigins: [String]
        /// Host names the server answers to besides loopback ones (only enforced on loopback binds).
        public var allowedHosts: [String]
        public var maxBodyBytes: Int
        public var pageSize: Int
        /// How long clients may cache list results (2026-07-28 `ttlMs`).
        public var listTTLMilliseconds: Int
        public var name: String
        public var instructions: String?
        /// Where `/metrics` is served, on a listener of its own; nil: metrics are off.
        public var metricsListen: MetricsListener? = nil
    }

    /// The address of the metrics listener. It has no authentication, so it is loopback unless
    /// `server.metrics_allow_remote` says otherwise.
    public struct MetricsListener: Sendable, Equatable {
        public var host: String
        public var port: Int
    }

    public struct Auth: Sendable {
        public enum Mode: String, Sendable {
            /// No authentication: only for a server bound to loopback; every call runs as `localOwner`.
            case none
            /// The built-in OAuth 2.1 authorization server; every request needs its bearer token.
            case oauth
            /// Another server issues the tokens; this one only verifies them.
            case external
        }

        public var mode: Mode
        /// The owner every call runs for without authentication (and in stdio mode).
        public var localOwner: String
        public var tokens: AuthSettings
        /// Peers whose X-Forwarded-Proto/-Host are believed (the TLS proxy in front).
        public var trustedProxies: [AddressRange]
        /// How long a verified token is believed without asking the database (or the issuer) again.
        public var tokenCacheSeconds: Int
        /// The issuer trusted in `external` mode.
        public var external: ExternalIssuer?
        /// Every token must carry the `mcp` scope (on by default in `external` mode, where the
        /// issuer also grants tokens for other purposes).
        public var requireScope: Bool
        /// Test only: client metadata documents may be plain http on loopback addresses.
        public var allowLocalClientMetadata: Bool
    }

    /// The settings that differ in `other` and only take effect after a restart (a reload applies
    /// plugins and tool overlays, nothing else).
    public func settingsNeedingRestart(comparedTo other: ServerConfiguration) -> [String] {
        var changed: [String] = []
        func check<T: Equatable>(_ name: String, _ key: (ServerConfiguration) -> T) {
            if key(self) != key(other) { changed.append(name) }
        }
        check("server.listen") { "\($0.server.host):\($0.server.port)" }
        check("server.public_url") { $0.server.publicURL }
        check("server.allowed_origins") { $0.server.allowedOrigins }
        check("server.allowed_hosts") { $0.server.allowedHosts }
        check("server.max_body_bytes") { $0.server.maxBodyBytes }
        check("server.page_size") { $0.server.pageSize }
        check("server.list_ttl_ms") { $0.server.listTTLMilliseconds }
        check("server.name") { $0.server.name }
        check("server.instructions") { $0.server.instructions }
        check("auth") { "\($0.auth.mode.rawValue) \($0.auth.localOwner) \($0.auth.trustedProxies) \($0.auth.tokenCacheSeconds) \($0.auth.requireScope)" }
        check("auth tokens") { $0.auth.tokens }
        check("auth issuer") { $0.auth.external }
        check("auth.test_allow_http_client_metadata") { $0.auth.allowLocalClientMetadata }
        check("plugins.state_dir") { $0.plugins.stateDirectory }
        check("database") { $0.database }
        check("data") { $0.data }
        check("plugins.watch") { $0.reload.watch }
        check("plugins.debounce_ms") { $0.reload.debounceMilliseconds }
        check("plugins.admin_socket") { $0.reload.adminSocket }
        check("logging.level") { $0.logLevel }
        check("logging.format") { $0.logFormat }
        check("server.metrics_listen") { $0.server.metricsListen }
        return changed
    }

    /// True when the listen address only accepts connections from this machine.
    public var listensOnLoopback: Bool {
        RedirectURI.isLoopback(server.host)
    }
}
