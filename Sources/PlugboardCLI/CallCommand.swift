import ArgumentParser
import Foundation
import PlugboardJSON
import PlugboardServer

/// `plugboard call`: one tool call from the shell, through the same catalog a server would use.
struct Call: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Call one tool as the server would (argument validation, scoping, result checks) and print its result; no server is started.",
        discussion: "Exits 0 and prints the result as JSON, or prints the tool's error and exits 1.")

    @OptionGroup var options: ConfigOption

    @Argument(help: "The tool's name, as clients see it.")
    var tool: String

    @Argument(help: "The arguments as a JSON object.")
    var arguments: String = "{}"

    @Option(help: "The owner the call runs for (default: auth.local_owner).")
    var owner: String?

    func run() async throws {
        let parsed: JSONObject
        do {
            guard case .object(let object) = try JSONValue(parsing: arguments) else {
                throw ValidationError("the arguments must be a JSON object, such as '{\"text\": \"hi\"}'")
            }
            parsed = object
        } catch let error as ValidationError {
            throw error
        } catch {
            throw ValidationError("the arguments are not valid JSON (\(error)); pass one JSON object, such as '{\"text\": \"hi\"}'")
        }
        if let owner, owner.isEmpty { throw ValidationError("--owner must not be empty") }
        Plugboard.ignoreBrokenPipes()
        let configuration = try options.load()
        // Warnings and refusals go to stderr, so stdout holds only the result.
        let logger = bootstrapLogging(level: .warning, format: configuration.logFormat)
        let app = try PlugboardApp.open(configuration, logger: logger)
        switch try await app.callOnce(tool: tool, arguments: parsed, owner: owner) {
        case .refused(let message):
            FileHandle.standardError.write(Data("error: \(message)\n".utf8))
            throw ExitCode(1)
        case .result(let result):
            if result["isError"] == .bool(true) {
                let texts = result["content"]?.arrayValue?.compactMap { $0["text"]?.stringValue } ?? []
                FileHandle.standardError.write(Data("tool error: \(texts.joined(separator: "\n"))\n".utf8))
                throw ExitCode(1)
            }
            print(result.prettyJSONString)
        }
    }
}
