import PlugboardJSON

/// What the server offers, as of one moment: the tools, resources and prompts clients see and how
/// to run them. One request uses one catalog from start to end, so a reload never mixes two.
///
/// Lists return MCP objects (`Tool`, `Resource`, `ResourceTemplate`, `Prompt`) in a stable order;
/// the server pages through them.
public protocol MCPCatalog: Sendable {
    /// Grows with every new catalog (hot reload); used for cursors and list caching.
    var revision: UInt64 { get }
    func tools(for caller: MCPCaller) -> [JSONValue]
    func resources(for caller: MCPCaller) -> [JSONValue]
    func resourceTemplates(for caller: MCPCaller) -> [JSONValue]
    func prompts(for caller: MCPCaller) -> [JSONValue]
    /// Runs a tool. Unknown tools throw `invalidParams`; failures of the tool itself are results
    /// with `isError: true`.
    func callTool(_ name: String, arguments: JSONObject, context: MCPCallContext) async throws(MCPError) -> JSONValue
    /// Reads a resource; a missing one throws `resourceNotFound`.
    func readResource(_ uri: String, context: MCPCallContext) async throws(MCPError) -> JSONValue
    /// Renders a prompt; an unknown prompt or a missing required argument throws `invalidParams`.
    func getPrompt(_ name: String, arguments: [String: String], context: MCPCallContext) async throws(MCPError) -> JSONValue
    /// Suggests values for a prompt argument or a resource-template variable.
    func complete(_ reference: CompletionReference, argument: String, prefix: String, caller: MCPCaller) throws(MCPError) -> [String]
}

/// Hands out the current catalog for the duration of one request.
public protocol MCPCatalogSource: Sendable {
    /// The catalog serving now. The request must `release()` the lease when it ends: a replaced
    /// catalog is retired only once every request that used it has finished.
    func leaseCatalog() -> MCPCatalogLease
}

/// A catalog held by one request.
public struct MCPCatalogLease: Sendable {
    public let catalog: any MCPCatalog
    private let onRelease: @Sendable () -> Void

    public init(catalog: any MCPCatalog, onRelease: @escaping @Sendable () -> Void = {}) {
        self.catalog = catalog
        self.onRelease = onRelease
    }

    public func release() {
        onRelease()
    }
}

/// Who is calling: the owner every plugin call runs for, and what their token allows.
public struct MCPCaller: Sendable, Equatable {
    /// The user the call runs for (the verified token's subject, or the configured local owner).
    public var owner: String
    /// The OAuth client, when known.
    public var clientID: String?
    /// The token's scopes; nil means unrestricted (no auth configured, or stdio).
    public var scopes: Set<String>?

    public init(owner: String, clientID: String? = nil, scopes: Set<String>? = nil) {
        self.owner = owner
        self.clientID = clientID
        self.scopes = scopes
    }

    /// True if the caller holds every scope in `required`.
    public func allows(_ required: [String]) -> Bool {
        guard let scopes else { return true }
        return required.allSatisfy(scopes.contains)
    }
}

/// One request being served: who for, and its progress and cancellation channels.
public struct MCPCallContext: Sendable {
    public var caller: MCPCaller
    public var requestID: RequestID
    /// Set when the client asked for progress and the transport can deliver it.
    public var progress: ProgressSink?
    public var cancellation: CancellationSignal

    public init(caller: MCPCaller, requestID: RequestID, progress: ProgressSink?, cancellation: CancellationSignal) {
        self.caller = caller
        self.requestID = requestID
        self.progress = progress
        self.cancellation = cancellation
    }
}

/// What a `completion/complete` request completes.
public enum CompletionReference: Sendable, Equatable {
    case prompt(name: String)
    case resourceTemplate(uri: String)
}
