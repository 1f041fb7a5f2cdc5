import PlugboardContracts
import PlugboardJSON

/// A plugin's `manifest.yaml`: the source of truth for what clients see. The library only
/// provides the handlers it names.
public struct Manifest: Sendable {
    /// Where the manifest was read from.
    public var file: String
    public var plugin: String
    public var version: String
    /// The library file, relative to the manifest's folder.
    public var library: String
    /// The ABI major version the manifest was written for.
    public var abi: Int
    public var description: String?
    public var isolation: Isolation
    /// The `config:` section, handed to the plugin's create entry point as JSON.
    public var config: JSONValue
    /// The `data:` section: which tables the plugin may read through the host, and who owns rows.
    public var tables: [TableDeclaration]
    public var tools: [ToolManifest]
    public var resources: [ResourceManifest]
    public var prompts: [PromptManifest]
    /// False when the manifest leaves `isolation` to `plugins.default_isolation`.
    public var declaresIsolation = true
    /// The YAML text it was read from: a reload compares it to tell an edited manifest.
    public var source = ""
    /// Set for `kind: http`: the tools are HTTP requests to this upstream, and there is no library.
    public var http: HTTPPluginSettings?

    /// Every handler name the manifest refers to, with what refers to it.
    public var handlerReferences: [(handler: String, usedBy: String, line: Int)] {
        tools.map { ($0.handler, "tool '\($0.name)'", $0.line) }
            + resources.map { ($0.handler, "resource '\($0.name)'", $0.line) }
            + prompts.compactMap { prompt in
                if case .handler(let handler) = prompt.body { return (handler, "prompt '\(prompt.name)'", prompt.line) }
                return nil
            }
    }
}

/// Where a plugin's calls run.
public enum Isolation: String, Sendable {
    /// Loaded into the host process: fastest; a crash takes the host down.
    case inProcess = "in_process"
    /// Run in a `plugboard plugin-worker` child process: survives its own crash.
    case process
}

/// A tool as declared in a manifest.
public struct ToolManifest: Sendable {
    public var name: String
    public var handler: String
    public var title: String?
    public var description: String
    public var inputSchema: JSONSchema
    public var outputSchema: JSONSchema?
    public var annotations: JSONObject?
    /// OAuth scopes a caller needs to see and call the tool.
    public var scopes: [String]
    /// True when the tool may write through scoped queries.
    public var writes: Bool
    public var limits: ToolLimits
    /// The manifest line the tool starts on, for error messages.
    public var line: Int
    /// Words for people for some of `scopes`, shown on the consent page.
    public var scopeDescriptions: [String: String] = [:]
    /// For a tool of a `kind: http` plugin: the request it makes.
    public var request: HTTPRequestTemplate?
}

/// Per-tool limits the host enforces.
public struct ToolLimits: Sendable, Equatable {
    public var timeoutMilliseconds: Int
    public var maxResultCharacters: Int
    public var maxRows: Int

    public init(timeoutMilliseconds: Int, maxResultCharacters: Int, maxRows: Int) {
        self.timeoutMilliseconds = timeoutMilliseconds
        self.maxResultCharacters = maxResultCharacters
        self.maxRows = maxRows
    }

    public static let defaults = ToolLimits(timeoutMilliseconds: 30_000, maxResultCharacters: 100_000, maxRows: 1_000)
}

/// A resource or resource template as declared in a manifest.
public struct ResourceManifest: Sendable {
    public enum Address: Sendable, Equatable {
        case uri(String)
        case template(URITemplate)
    }

    public var address: Address
    public var name: String
    public var title: String?
    public var description: String?
    public var mimeType: String?
    public var handler: String
    /// OAuth scopes a token needs to list and read it (none: every token of this server).
    public var scopes: [String] = []
    public var line: Int
    /// Words for people for some of `scopes`, shown on the consent page.
    public var scopeDescriptions: [String: String] = [:]
}

/// A prompt as declared in a manifest.
public struct PromptManifest: Sendable {
    public enum Body: Sendable, Equatable {
        /// Text with `{{argument}}` placeholders.
        case template(String)
        /// A handler in the library renders the messages.
        case handler(String)
    }

    public var name: String
    public var title: String?
    public var description: String?
    public var arguments: [PromptArgument]
    public var body: Body
    /// OAuth scopes a token needs to list and get it (none: every token of this server).
    public var scopes: [String] = []
    public var line: Int
    /// Words for people for some of `scopes`, shown on the consent page.
    public var scopeDescriptions: [String: String] = [:]
}

/// An argument of a prompt.
public struct PromptArgument: Sendable, Equatable {
    public var name: String
    public var description: String?
    public var required: Bool
    /// Values offered by `completion/complete`.
    public var values: [String]
}
