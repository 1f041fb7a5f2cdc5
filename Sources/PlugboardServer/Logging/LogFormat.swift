import Logging
import PlugboardMCP

/// How log lines are written (`logging.format`).
public enum LogFormat: String, Sendable, Equatable {
    /// swift-log's own lines, for people reading a terminal.
    case text
    /// One JSON object per line (`JSONLogHandler`), for log collectors.
    case json

    /// A handler writing to standard error in this format (stdout belongs to the stdio transport).
    /// Lines logged while an MCP request is served carry its id, owner and tool.
    public func standardError(label: String, level: Logger.Level) -> any LogHandler {
        switch self {
        case .text:
            var handler = StreamLogHandler.standardError(label: label, metadataProvider: RequestLogContext.metadataProvider)
            handler.logLevel = level
            return handler
        case .json:
            return JSONLogHandler.standardError(label: label, level: level, metadataProvider: RequestLogContext.metadataProvider)
        }
    }
}
