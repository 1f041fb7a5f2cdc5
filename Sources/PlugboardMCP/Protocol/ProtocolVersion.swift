/// The MCP revisions this server speaks.
public enum ProtocolVersion {
    /// The stateless revision: no initialize, metadata on every request.
    public static let modern = "2026-07-28"
    /// The handshake revisions, newest first, served statelessly.
    public static let legacy = ["2025-11-25", "2025-06-18", "2025-03-26"]
    /// What a request without an `MCP-Protocol-Version` header is assumed to speak (2025-03-26 rule).
    public static let assumedWithoutHeader = "2025-03-26"
    /// Every version, newest first, as listed to clients.
    public static let all = [modern] + legacy

    /// The version an `initialize` gets: the client's own if supported, else the newest legacy one.
    public static func negotiate(_ requested: String?) -> String {
        if let requested, legacy.contains(requested) { return requested }
        return legacy[0]
    }
}

/// How a request is served: which revision's rules apply to it.
public enum ProtocolEra: Sendable, Equatable {
    /// 2025-11-25 and earlier: `initialize` handshake, served statelessly.
    case legacy(version: String)
    /// 2026-07-28: per-request `_meta`, required headers, cache hints, `resultType`.
    case modern

    public var isModern: Bool { self == .modern }

    public var version: String {
        switch self {
        case .legacy(let version): version
        case .modern: ProtocolVersion.modern
        }
    }
}
