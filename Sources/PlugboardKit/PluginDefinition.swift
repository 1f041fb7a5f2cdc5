import PlugboardJSON
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The handlers a plugin library implements, registered by name. The manifest decides which
/// handler serves which tool, resource or prompt, and what clients call them.
public struct PluginDefinition: Sendable {
    typealias Handler = @Sendable (_ input: [UInt8], _ call: CallContext) async -> PluginReply

    private(set) var handlers: [String: Handler] = [:]
    private(set) var handlerNames: [String] = []
    private(set) var configure: (@Sendable (PluginConfiguration) throws -> Void)?

    init() {}

    /// A tool whose arguments decode into `Arguments`.
    public mutating func tool<Arguments: Decodable & Sendable>(
        _ handler: String,
        _ body: @escaping @Sendable (Arguments, CallContext) async throws -> ToolResult
    ) {
        register(handler) { input, call in
            let arguments: Arguments
            do {
                arguments = try JSONDecoder().decode(Arguments.self, from: Data(input.isEmpty ? Array("{}".utf8) : input))
            } catch let error as DecodingError {
                return PluginReply(status: PB_INVALID_ARGUMENTS, text: ArgumentError.describe(error, input: input))
            } catch {
                return PluginReply(status: PB_INVALID_ARGUMENTS, text: "\(error)")
            }
            return await runTool { try await body(arguments, call) }
        }
    }

    /// A tool that takes no arguments.
    public mutating func tool(_ handler: String, _ body: @escaping @Sendable (CallContext) async throws -> ToolResult) {
        register(handler) { _, call in await runTool { try await body(call) } }
    }

    /// A resource, or a resource template: `request.parameters` holds the template's variables.
    public mutating func resource(
        _ handler: String,
        _ body: @escaping @Sendable (ResourceRequest, CallContext) async throws -> ResourceContent
    ) {
        register(handler) { input, call in
            let request: ResourceRequest
            do {
                request = try JSONDecoder().decode(ResourceRequest.self, from: Data(input))
            } catch {
                return PluginReply(status: PB_INVALID_ARGUMENTS, text: "malformed resource request: \(error)")
            }
            do {
                let content = try await body(request, call)
                return PluginReply(status: PB_OK, bytes: content.encoded(uri: request.uri))
            } catch {
                return PluginReply(error: error)
            }
        }
    }

    /// A prompt whose messages are computed (prompts that are plain templates need no handler).
    public mutating func prompt(
        _ handler: String,
        _ body: @escaping @Sendable (PromptRequest, CallContext) async throws -> PromptResult
    ) {
        register(handler) { input, call in
            let request: PromptRequest
            do {
                request = try JSONDecoder().decode(PromptRequest.self, from: Data(input))
            } catch {
                return PluginReply(status: PB_INVALID_ARGUMENTS, text: "malformed prompt request: \(error)")
            }
            do {
                let result = try await body(request, call)
                return PluginReply(status: PB_OK, bytes: try JSONValueEncoder().encode(result).jsonBytes)
            } catch {
                return PluginReply(error: error)
            }
        }
    }

    /// Runs when the host creates the plugin, with the manifest's `config:` section. Throwing
    /// refuses the plugin with the error's description (the host keeps serving the others).
    public mutating func onCreate(_ body: @escaping @Sendable (PluginConfiguration) throws -> Void) {
        configure = body
    }

    private mutating func register(_ name: String, _ handler: @escaping Handler) {
        if handlers[name] == nil { handlerNames.append(name) }
        handlers[name] = handler
    }
}

/// The manifest's `config:` section.
public struct PluginConfiguration: Sendable {
    /// The section as JSON text (`{}` when the manifest has none).
    public let json: [UInt8]

    /// Decodes the section into your own configuration type.
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(json))
    }
}

private func runTool(_ body: () async throws -> ToolResult) async -> PluginReply {
    do {
        let result = try await body()
        return PluginReply(status: PB_OK, bytes: result.encoded())
    } catch {
        return PluginReply(error: error)
    }
}
