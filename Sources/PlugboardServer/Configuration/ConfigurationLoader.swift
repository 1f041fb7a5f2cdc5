import Foundation
import PlugboardAuth
import Logging
import PlugboardPlugins
import Yams

/// Reads `config.yaml`. Unknown keys are refused (with a suggestion), so a typo never silently
/// turns a setting off.
public enum ConfigurationLoader {
    public static func load(path: String) throws(ConfigurationError) -> ServerConfiguration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(file: path, line: nil, reason: "cannot read the configuration: \(error.localizedDescription)")
        }
        return try parse(yaml: text, file: path)
    }

    /// The admin socket of a server started with the config file at `path`, found even when the
    /// file now has errors (so `plugboard reload` can still ask the server, which reports them).
    public static func adminSocket(forConfig path: String) -> String {
        if let configuration = try? load(path: path) { return configuration.reload.adminSocket }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent().path
        func resolve(_ value: String) -> String {
            value.hasPrefix("/") ? value : URL(fileURLWithPath: value, relativeTo: URL(fileURLWithPath: base + "/")).standardizedFileURL.path
        }
        let plugins = (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { try? Yams.compose(yaml: $0) }?.mapping?["plugins"]?.mapping
        if let socket = plugins?["admin_socket"]?.string { return resolve(socket) }
        return resolve("\(plugins?["state_dir"]?.string ?? ".plugboard")/admin.sock")
    }

    public static func parse(yaml text: String, file: String) throws(ConfigurationError) -> ServerConfiguration {
        do {
            return try read(text, file: file)
        } catch {
            throw ConfigurationError(file: file, line: error.line, reason: error.reason)
        }
    }

    private static func read(_ text: String, file: String) throws(YAMLProblem) -> ServerConfiguration {
        let root = try YAMLNode.document(yaml: text, file: file)
        let base = URL(fileURLWithPath: file).deletingLastPathComponent().path
        func resolve(_ path: String) -> String {
            path.hasPrefix("/") ? path : URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: base + "/")).standardizedFileURL.path
        }
        let sections = try root.mapping(allowed: ["server", "auth", "plugins", "database", "data", "tools", "logging"])

        let serverKeys = try sections["server"]?.mapping(allowed: [
            "listen", "public_url", "allowed_origins", "allowed_hosts", "max_body_bytes", "page_size", "list_ttl_ms", "name", "instructions",
            "metrics_listen", "metrics_allow_remote",
        ]) ?? [:]
        var host = "127.0.0.1"
        var port = 8080
        if let listen = serverKeys["listen"] {
            let value = try listen.string()
            guard let colon = value.lastIndex(of: ":"), let parsed = Int(value[value.index(after: colon)...]), (0...65535).contains(parsed) else {
                throw listen.error("listen must be host:port, e.g. 127.0.0.1:8080")
            }
            host = String(value[..<colon])
            port = parsed
        }
        var publicURL = try serverKeys["public_url"]?.string()
        if let url = publicURL {
            guard url.hasPrefix("https://") || url.hasPrefix("http://") else {
                throw (serverKeys["public_url"] ?? root).error("public_url must be an absolute http(s) URL")
            }
            while publicURL?.hasSuffix("/") == true { publicURL?.removeLast() }
        }
        let pluginKeys = try sections["plugins"]?.mapping(allowed: [
            "folder", "library_path", "state_dir", "watch", "debounce_ms", "admin_socket", "isolation", "default_isolation", "reload", "alias_ttl",
        ]) ?? [:]
        let watch = try pluginKeys["watch"]?.bool() ?? false
        let metricsListen = try serverKeys["metrics_listen"].map(Self.metricsListener)
        if let metricsListen, let node = serverKeys["metrics_listen"] {
            if try !(serverKeys["metrics_allow_remote"]?.bool() ?? false), !RedirectURI.isLoopback(metricsListen.host) {
                throw node.error(
                    "metrics_listen \(metricsListen.host):\(metricsListen.port) is not a loopback address; /metrics has no authentication, so "
                        + "bind 127.0.0.1 (or ::1), or set server.metrics_allow_remote: true for a private interface your scraper reaches")
            }
            if metricsListen.host == host, metricsListen.port == port, port != 0 {
                throw node.error("metrics_listen must differ from listen (\(host):\(port)): /metrics is served on a listener of its own")
            }
        }
        var server = ServerConfiguration.Server(
            host: host,
            port: port,
            publicURL: publicURL,
            allowedOrigins: try serverKeys["allowed_origins"]?.strings() ?? [],
            allowedHosts: try serverKeys["allowed_hosts"]?.strings() ?? [],
            maxBodyBytes: try serverKeys["max_body_bytes"]?.integer(in: 1_024...1_073_741_824) ?? 4 * 1_048_576,
            pageSize: try serverKeys["page_size"]?.integer(in: 1...10_000) ?? 100,
            // Watched (staging) catalogs change often: let clients cache lists only when they don't.
            listTTLMilliseconds: try serverKeys["list_ttl_ms"]?.integer(in: 0...86_400_000) ?? (watch ? 0 : 60_000),
            name: try serverKeys["name"]?.string() ?? "plugboard",
            instructions: try serverKeys["instructions"]?.string()
        )
        server.metricsListen = metricsListen

        let authKeys =
            try sections["auth"]?.mapping(allowed: [
                "mode", "local_owner", "access_token_ttl_s", "refresh_token_ttl_s", "code_ttl_s", "trusted_proxies", "token_cache_s", "test_auto_consent",
                "test_allow_http_client_metadata", "issuer", "jwks_url", "audience", "owner_claim", "introspection_url", "introspection_client_id",
                "introspection_client_secret", "introspection_auth", "allowed_clients", "require_scope",
            ]) ?? [:]
        let modeName = try authKeys["mode"]?.string() ?? "none"
        guard let mode = ServerConfiguration.Auth.Mode(rawValue: modeName) else {
            throw (authKeys["mode"] ?? root).error(
                "unknown auth mode '\(modeName)': use 'oauth' (the built-in authorization server), 'external' (tokens of another issuer) "
                    + "or 'none' (loopback development only)")
        }
        var external: ExternalIssuer?
        if mode == .external {
            guard let issuer = try authKeys["issuer"]?.string() else {
                throw (authKeys["mode"] ?? root).error("auth mode 'external' needs auth.issuer: the issuer URL its tokens carry in 'iss'")
            }
            var introspection: ExternalIssuer.Introspection?
            if let url = try authKeys["introspection_url"]?.string() {
                guard let clientID = try authKeys["introspection_client_id"]?.string(),
                    let secret = try authKeys["introspection_client_secret"]?.string()
                else {
                    throw (authKeys["introspection_url"] ?? root).error(
                        "auth.introspection_url needs auth.introspection_client_id and auth.introspection_client_secret")
                }
                let method = try authKeys["introspection_auth"]?.string() ?? ExternalIssuer.Introspection.ClientAuthentication.basic.rawValue
                guard let authentication = ExternalIssuer.Introspection.ClientAuthentication(rawValue: method) else {
                    throw (authKeys["introspection_auth"] ?? root).error(
                        "unknown auth.introspection_auth '\(method)': use 'client_secret_basic' (the default) or 'client_secret_post'")
                }
                introspection = .init(url: url, clientID: clientID, clientSecret: secret, authentication: authentication)
            }
            let ownerClaim = try authKeys["owner_claim"]?.string() ?? "sub"
            guard !ownerClaim.isEmpty else { throw (authKeys["owner_claim"] ?? root).error("auth.owner_claim names the claim holding the owner") }
            external = ExternalIssuer(
                issuer: issuer, jwksURL: try authKeys["jwks_url"]?.string(), introspection: introspection, audience: try authKeys["audience"]?.string(),
                ownerClaim: ownerClaim, allowedClients: Set(try authKeys["allowed_clients"]?.strings() ?? []))
        } else if let key = ["allowed_clients", "owner_claim", "introspection_auth"].first(where: { authKeys[$0] != nil }), let node = authKeys[key] {
            throw node.error("auth.\(key) applies to auth mode 'external' only")
        }
        let auth = ServerConfiguration.Auth(
            mode: mode, localOwner: try authKeys["local_owner"]?.string() ?? "local",
            tokens: AuthSettings(
                accessTokenSeconds: Int64(try authKeys["access_token_ttl_s"]?.integer(in: 60...86_400 * 7) ?? 3600),
                refreshTokenSeconds: Int64(try authKeys["refresh_token_ttl_s"]?.integer(in: 60...86_400 * 365) ?? 30 * 86_400),
                codeSeconds: Int64(try authKeys["code_ttl_s"]?.integer(in: 1...600) ?? 300),
                autoConsentUser: try authKeys["test_auto_consent"]?.string()),
            trustedProxies: try authKeys["trusted_proxies"].map(Self.addressRanges) ?? [],
            tokenCacheSeconds: try authKeys["token_cache_s"]?.integer(in: 0...300) ?? 30,
            external: external,
            requireScope: try authKeys["require_scope"]?.bool() ?? (mode == .external),
            allowLocalClientMetadata: try authKeys["test_allow_http_client_metadata"]?.bool() ?? false)

        var overlays: [String: ToolOverlay] = [:]
        if let tools = sections["tools"] {
            guard let mapping = tools.node.mapping else { throw tools.error("expected a mapping of tool names to overlays") }
            for (key, value) in mapping {
                guard let toolName = key.scalar?.string else { throw tools.error("tool names must be strings") }
                let entry = tools.child(toolName, value)
                let fields = try entry.mapping(allowed: ["name", "description", "enabled"])
                let rename = try fields["name"]?.string()
                if let rename, !NameRules.isValid(rename) {
                    throw (fields["name"] ?? entry).error("invalid tool name '\(rename)': names must match \(NameRules.pattern)")
                }
                overlays[toolName] = ToolOverlay(
                    name: rename, description: try fields["description"]?.string(), enabled: try fields["enabled"]?.bool(), file: file,
                    line: entry.line)
            }
        }
        var isolation: [String: Isolation] = [:]
        if let isolationNode = pluginKeys["isolation"] {
            guard let mapping = isolationNode.node.mapping else { throw isolationNode.error("expected a mapping of plugin names to in_process or process") }
            for (key, value) in mapping {
                guard let plugin = key.scalar?.string else { throw isolationNode.error("plugin names must be strings") }
                let entry = isolationNode.child(plugin, value)
                guard let mode = Isolation(rawValue: try entry.string()) else { throw entry.error("isolation must be 'in_process' or 'process'") }
                isolation[plugin] = mode
            }
        }
        let defaultIsolation = try pluginKeys["default_isolation"].map { node throws(YAMLProblem) in
            guard let mode = Isolation(rawValue: try node.string()) else { throw node.error("plugins.default_isolation must be 'in_process' or 'process'") }
            return mode
        }
        let reloadPolicy = try pluginKeys["reload"].map { node throws(YAMLProblem) in
            guard let policy = ReloadPolicy(rawValue: try node.string()) else {
                throw node.error("plugins.reload must be 'per_plugin' (a refused plugin keeps its previous version) or 'all_or_nothing'")
            }
            return policy
        }
        let stateDirectory = resolve(try pluginKeys["state_dir"]?.string() ?? ".plugboard")
        let plugins = PluginHostConfiguration(
            folder: resolve(try pluginKeys["folder"]?.string() ?? "plugins"),
            librarySearchPath: try (pluginKeys["library_path"]?.strings() ?? []).map(resolve),
            stateDirectory: stateDirectory,
            toolOverlays: overlays,
            isolation: isolation,
            defaultIsolation: defaultIsolation ?? .inProcess,
            reloadPolicy: reloadPolicy ?? .perPlugin,
            aliasTTL: try pluginKeys["alias_ttl"].map(Self.duration) ?? .seconds(86_400)
        )
        let databases = try DatabaseConfigurationReader.read(
            database: sections["database"], data: sections["data"], stateDirectory: stateDirectory, resolve: resolve)
        let reload = ServerConfiguration.Reload(
            watch: watch,
            debounceMilliseconds: try pluginKeys["debounce_ms"]?.integer(in: 0...60_000) ?? 250,
            adminSocket: resolve(try pluginKeys["admin_socket"]?.string() ?? "\(stateDirectory)/admin.sock"))

        let loggingKeys = try sections["logging"]?.mapping(allowed: ["level", "format"]) ?? [:]
        let levelName = try loggingKeys["level"]?.string() ?? "info"
        guard let level = Logger.Level(rawValue: levelName) else {
            throw (loggingKeys["level"] ?? root).error("logging.level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let formatName = try loggingKeys["format"]?.string() ?? "text"
        guard let format = LogFormat(rawValue: formatName) else {
            throw (loggingKeys["format"] ?? root).error("logging.format must be text or json")
        }
        var configuration = ServerConfiguration(
            file: file, server: server, auth: auth, plugins: plugins, database: databases.host, data: databases.data, reload: reload, logLevel: level)
        configuration.logFormat = format
        return configuration
    }

    /// `host:port` for the metrics listener (an IPv6 host in brackets is accepted as `[::1]:9464`).
    private static func metricsListener(_ node: YAMLNode) throws(YAMLProblem) -> ServerConfiguration.MetricsListener {
        let value = try node.string()
        guard let colon = value.lastIndex(of: ":"), let port = Int(value[value.index(after: colon)...]), (0...65535).contains(port), colon > value.startIndex
        else {
            throw node.error("metrics_listen must be host:port, e.g. 127.0.0.1:9464")
        }
        var host = String(value[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return ServerConfiguration.MetricsListener(host: host, port: port)
    }

    /// A duration: seconds, or a number with `s`, `m`, `h` or `d` (`24h`).
    private static func duration(_ node: YAMLNode) throws(YAMLProblem) -> Duration {
        let text = try node.string().trimmingCharacters(in: .whitespaces)
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]
        let (digits, unit) = text.last.flatMap { units[$0] }.map { (text.dropLast(), $0) } ?? (Substring(text), 1)
        guard let value = Int(digits), value >= 0, value <= 365 * 86_400 / unit else {
            throw node.error("'\(text)' is not a duration: write seconds, or a number with s, m, h or d (24h)")
        }
        return .seconds(value * unit)
    }

    private static func addressRanges(_ node: YAMLNode) throws(YAMLProblem) -> [AddressRange] {
        var ranges: [AddressRange] = []
        for element in try node.sequence() {
            let text = try element.string()
            guard let range = AddressRange(text) else {
                throw element.error("'\(text)' is not an IP address or a CIDR range such as 10.0.0.0/8 (names are not accepted: the peer is an address)")
            }
            ranges.append(range)
        }
        return ranges
    }
}
