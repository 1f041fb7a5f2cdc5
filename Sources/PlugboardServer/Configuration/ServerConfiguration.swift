import Logging
import PlugboardPlugins

/// Everything `config.yaml` says. Paths are already resolved against the file's folder.
public struct ServerConfiguration: Sendable {
    public var file: String
    public var server: Server
    public var auth: Auth
    public var plugins: PluginHostConfiguration
    public var logLevel: Logger.Level

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
        public var name: String
        public var instructions: String?
    }

    public struct Auth: Sendable {
        public enum Mode: String, Sendable {
            /// No authentication: only for a server bound to loopback; every call runs as `localOwner`.
            case none
        }

        public var mode: Mode
        /// The owner every call runs for without authentication (and in stdio mode).
        public var localOwner: String
    }

    /// True when the listen address only accepts connections from this machine.
    public var listensOnLoopback: Bool {
        HostAddress.isLoopback(server.host)
    }
}

enum HostAddress {
    static func isLoopback(_ host: String) -> Bool {
        let bare = host.trimmingCharacters(in: ["[", "]"])
        return bare == "localhost" || bare == "::1" || bare.hasPrefix("127.")
    }
}
