import Logging
import PlugboardJSON

/// The MCP request the current task is serving, so that every line logged while serving it (by the
/// catalog, the plugin host, the data layer) says which request, owner and tool it belongs to,
/// without each of them being handed a logger per request.
///
/// Kept as the request's own values and formatted only when a line is actually written: a request
/// that logs nothing pays for a task-local binding and a few retains.
public struct RequestLogContext: Sendable {
    let id: RequestID
    let method: String
    let owner: String
    let params: JSONObject

    @TaskLocal static var current: RequestLogContext?

    /// For `LoggingSystem.bootstrap(_:metadataProvider:)` (or a handler of one's own): adds
    /// `request`, `method`, `owner` and `tool` (or `prompt`, `uri`) to every line logged by a task
    /// serving an MCP request.
    public static let metadataProvider = Logger.MetadataProvider {
        guard let context = current else { return [:] }
        var metadata: Logger.Metadata = ["request": "\(context.id)", "method": "\(context.method)", "owner": "\(context.owner)"]
        if let (key, value) = context.target { metadata[key] = "\(value)" }
        return metadata
    }

    /// What the request names, by the key its log lines use: the tool of `tools/call`, the prompt
    /// of `prompts/get`, the URI of `resources/read`.
    var target: (key: String, value: String)? {
        switch method {
        case "tools/call": params["name"]?.stringValue.map { ("tool", $0) }
        case "prompts/get": params["name"]?.stringValue.map { ("prompt", $0) }
        case "resources/read": params["uri"]?.stringValue.map { ("uri", $0) }
        default: nil
        }
    }
}
