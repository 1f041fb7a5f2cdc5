import ArgumentParser
import Foundation
import Logging
import PlugboardPlugins
import PlugboardServer

/// `plugboard`: serve MCP from plugins.
@main
struct Plugboard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugboard",
        abstract: "A plugin-host MCP server.",
        version: PlugboardVersion.current,
        subcommands: [Serve.self, Stdio.self, Check.self],
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
func bootstrapLogging(level: Logger.Level) -> Logger {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
    return Logger(label: "plugboard")
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve MCP over HTTP (the default).")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        let configuration = try options.load()
        let logger = bootstrapLogging(level: configuration.logLevel)
        let app: PlugboardApp
        do {
            app = try PlugboardApp(configuration: configuration, logger: logger)
        } catch {
            throw ValidationError(error.description)
        }
        try await app.runHTTP()
    }
}

struct Stdio: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve MCP over stdin/stdout for a desktop client, as the configured local owner.")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        let configuration = try options.load()
        let logger = bootstrapLogging(level: configuration.logLevel)
        let app: PlugboardApp
        do {
            app = try PlugboardApp(configuration: configuration, logger: logger)
        } catch {
            throw ValidationError(error.description)
        }
        await app.runStdio()
    }
}

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Validate the configuration and every plugin without serving.")

    @OptionGroup var options: ConfigOption

    func run() async throws {
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
