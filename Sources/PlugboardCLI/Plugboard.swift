import ArgumentParser
import Foundation
import Logging
import PlugboardData
import PlugboardJSON
import PlugboardPlugins
import PlugboardServer

/// `plugboard`: serve MCP from plugins.
@main
struct Plugboard: AsyncParsableCommand {
    /// A dead plugin worker must not take the host down when the host writes to its pipe.
    static func ignoreBrokenPipes() {
        signal(SIGPIPE, SIG_IGN)
    }

    static let configuration = CommandConfiguration(
        commandName: "plugboard",
        abstract: "A plugin-host MCP server.",
        version: PlugboardVersion.banner,
        subcommands: [
            Serve.self, Stdio.self, Check.self, Reload.self, Status.self, Migrate.self, Audit.self, User.self, Client.self, Token.self, AuthCommand.self,
            New.self, Call.self, Dev.self, PluginWorkerCommand.self,
        ],
        defaultSubcommand: Serve.self
    )
}

struct ConfigOption: ParsableArguments {
    @Option(name: .shortAndLong, help: "The configuration file.")
    var config: String = "config.yaml"

    func load() throws -> ServerConfiguration {
        do {
            return try ConfigurationLoader.load(path: config)
        } catch {
            throw ValidationError(error.description)
        }
    }
}

/// Logs go to standard error, so stdout stays free for the stdio transport.
func bootstrapLogging(level: Logger.Level, format: LogFormat = .text) -> Logger {
    LoggingSystem.bootstrap { label in format.standardError(label: label, level: level) }
    return Logger(label: "plugboard")
}

/// What both serving commands start with: the configuration, logging, metrics and the app.
/// - Parameter servesMetrics: true for the HTTP server, which serves `/metrics` when
///   `server.metrics_listen` is set (stdio has no listener to serve them on).
func servingApp(_ options: ConfigOption, servesMetrics: Bool) throws -> PlugboardApp {
    Plugboard.ignoreBrokenPipes()
    let configuration = try options.load()
    let logger = bootstrapLogging(level: configuration.logLevel, format: configuration.logFormat)
    // Once per process, here: MetricsSystem.bootstrap may be called only once.
    let metrics = servesMetrics && configuration.server.metricsListen != nil ? PlugboardMetrics.bootstrapped() : nil
    return try PlugboardApp.open(configuration, logger: logger, metrics: metrics)
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve MCP over HTTP (the default).")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        try await servingApp(options, servesMetrics: true).runHTTP()
    }
}

struct Stdio: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve MCP over stdin/stdout for a desktop client, as the configured local owner.")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        try await servingApp(options, servesMetrics: false).runStdio()
    }
}

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Validate the configuration and every plugin without serving.")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        Plugboard.ignoreBrokenPipes()
        let configuration = try options.load()
        let logger = bootstrapLogging(level: .error)
        let host = PluginHost(configuration: configuration.plugins, logger: logger)
        let report = await host.start()
        for plugin in report.plugins {
            FileHandle.standardOutput.write(Data("ok       \(plugin.name) \(plugin.version): tools \(plugin.tools.joined(separator: ", "))\n".utf8))
        }
        for refusal in report.refusals {
            FileHandle.standardOutput.write(Data("refused  \(refusal)\n".utf8))
        }
        for warning in report.warnings {
            FileHandle.standardOutput.write(Data("warning  \(warning)\n".utf8))
        }
        await host.shutdown()
        if !report.refusals.isEmpty { throw ExitCode(1) }
    }
}

struct Reload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reload plugins and config.yaml in the running server; a refused plugin keeps serving its previous version (exit 1).")

    @OptionGroup var options: ConfigOption

    @Flag(help: "Print the outcome as JSON.")
    var json = false

    func run() async throws {
        let body = try await AdminCommand.call(options: options, AdminClient.reload)
        if json {
            print(body.jsonString)
            if body["applied"] != .bool(true) || body["partial"] == .bool(true) { throw ExitCode(1) }
            return
        }
        let generation = body["generation"]?.integerValue ?? 0
        let partial = body["partial"] == .bool(true)
        if body["applied"] == .bool(true) {
            let list = { (key: String) in body[key]?.arrayValue?.compactMap(\.stringValue).joined(separator: ", ") ?? "" }
            print("\(partial ? "reloaded partially" : "reloaded"): generation \(generation) serving in \(body["duration_ms"]?.doubleValue ?? 0) ms")
            print("  loaded: \(list("loaded"))\n  carried over: \(list("carried_over"))\n  removed: \(list("removed"))")
            let kept = body["kept"]?.arrayValue ?? []
            for plugin in kept {
                let (name, version) = (plugin["plugin"]?.stringValue ?? "", plugin["version"]?.stringValue ?? "")
                print("  kept at its previous version: \(name) \(version); its new version was refused: \(plugin["reason"]?.stringValue ?? "")")
            }
            let keptNames = Set(kept.compactMap { $0["plugin"]?.stringValue })
            for refusal in body["refusals"]?.arrayValue ?? [] where !keptNames.contains(refusal["plugin"]?.stringValue ?? "") {
                print("  left out: \(refusal["message"]?.stringValue ?? "")")
            }
        } else {
            print("reload refused; generation \(generation) keeps serving:")
            for refusal in body["refusals"]?.arrayValue ?? [] { print("  \(refusal["message"]?.stringValue ?? "")") }
        }
        for setting in body["needs_restart"]?.arrayValue ?? [] { print("  needs a restart to apply: \(setting.stringValue ?? "")") }
        for warning in body["warnings"]?.arrayValue ?? [] { print("  warning: \(warning.stringValue ?? "")") }
        if body["applied"] != .bool(true) || partial { throw ExitCode(1) }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the running server's generation, plugins, tools (with disabled ones and old names) and last reload.")

    @OptionGroup var options: ConfigOption
    @Flag(help: "Print the admin socket's JSON on one line, for scripts.") var json = false

    func run() async throws {
        let status = try await AdminCommand.call(options: options, AdminClient.status)
        print(json ? status.jsonString : StatusTable.render(status))
    }
}

/// Talks to the running server's admin socket.
enum AdminCommand {
    static func call(options: ConfigOption, _ request: (String) async throws -> JSONValue) async throws -> JSONValue {
        // A config.yaml with errors must not stop us reaching the server: it reports them.
        let socket = ConfigurationLoader.adminSocket(forConfig: options.config)
        do {
            return try await request(socket)
        } catch {
            throw ValidationError("\(error)")
        }
    }
}

struct PluginWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin-worker", abstract: "Run one plugin for an isolated host (started by the host itself).", shouldDisplay: false)

    @Option(help: "The plugin library (the host's private copy).")
    var library: String

    @Option(help: "The plugin's name.")
    var plugin: String

    func run() throws {
        let status = PluginWorker.run(library: library, plugin: plugin)
        if status != 0 { throw ExitCode(status) }
    }
}

extension PlugboardApp {
    /// Opens the app or explains, in the user's terms, why it cannot start.
    static func open(_ configuration: ServerConfiguration, logger: Logger, metrics: PlugboardMetrics? = nil) throws -> PlugboardApp {
        do {
            return try PlugboardApp(configuration: configuration, logger: logger, metrics: metrics)
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        } catch {
            throw ValidationError("cannot open the database: \(error)")
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bring the database up to date (host tables, then the seed once); safe to run twice.")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        let configuration = try options.load()
        let logger = bootstrapLogging(level: .warning)
        let app = try PlugboardApp.open(configuration, logger: logger)
        let applied = try await app.store.migrate()
        print(applied.isEmpty ? "schema up to date" : applied.map { "applied migration \($0)" }.joined(separator: "\n"))
        if let seeded = try await app.seed(), let seed = configuration.data.seed {
            print(seeded ? "seeded from \(seed)" : "seed \(seed) already applied")
        }
        // Scoping for the tables the manifests declare: set up where the database needs it, then checked.
        let declarations = app.plugins.declaredTables()
        let problems = await app.plugins.prepareData(declarations)
        for declaration in declarations where problems[declaration.plugin] == nil {
            print("scoping ready for plugin \(declaration.plugin): \(declaration.tables.map(\.name).joined(separator: ", "))")
        }
        // A database-wide problem is the same text for every plugin: say it once.
        let pluginsByProblem = Dictionary(grouping: problems.keys.sorted(), by: { problems[$0] ?? "" })
        for (problem, plugins) in pluginsByProblem.sorted(by: { $0.value[0] < $1.value[0] }) {
            print("scoping NOT ready for plugin\(plugins.count == 1 ? "" : "s") \(plugins.joined(separator: ", ")): \(problem)")
        }
        if !problems.isEmpty { throw ExitCode(1) }
    }
}

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read the audit log of tool calls, resource reads and prompt gets.", subcommands: [Tail.self], defaultSubcommand: Tail.self)

    struct Tail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the latest records (and, with --follow, new ones as they come).")

        @OptionGroup var options: ConfigOption

        @Option(name: [.customShort("n"), .long], help: "How many records to print first.")
        var count = 20

        @Flag(help: "Keep printing new records.")
        var follow = false

        func run() async throws {
            let configuration = try options.load()
            let logger = bootstrapLogging(level: .warning)
            let store = try PlugboardApp.open(configuration, logger: logger).store
            _ = try await store.migrate()
            var last: Int64?
            while true {
                let records = try await store.audit(limit: last == nil ? count : 1_000, after: last)
                for record in records { print(Self.line(record)) }
                last = records.last?.id ?? last ?? 0
                guard follow else { return }
                try await Task.sleep(for: .seconds(1))
            }
        }

        static func line(_ record: AuditRecord) -> String {
            let event = record.event
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let milliseconds = Double(event.duration.components.seconds) * 1_000 + Double(event.duration.components.attoseconds) / 1e15
            let what = event.kind == .tool ? "\(event.plugin)/\(event.tool)" : "\(event.kind.rawValue) \(event.plugin.isEmpty ? "-" : event.plugin) \(event.tool)"
            return "\(formatter.string(from: event.at))  \(event.owner)  \(event.client ?? "-")  \(what)  "
                + "\(event.outcome.rawValue)  rows=\(event.rows) bytes=\(event.bytes) \(String(format: "%.1f", milliseconds))ms  args=\(event.argumentsDigest.prefix(12))"
        }
    }
}
