/// How log lines are written (`logging.format`).
public enum LogFormat: String, Sendable, Equatable {
    /// swift-log's own lines, for people reading a terminal.
    case text
    /// One JSON object per line (`JSONLogHandler`), for log collectors.
    case json
}
