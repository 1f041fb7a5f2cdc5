import PlugboardJSON

/// A JSON-RPC request id: a string or an integer, never null.
public enum RequestID: Sendable, Hashable, CustomStringConvertible {
    case int(Int64)
    case string(String)

    init?(_ value: JSONValue) {
        switch value {
        case .int(let int): self = .int(int)
        case .string(let string): self = .string(string)
        case .double(let double):
            guard let int = Int64(exactly: double) else { return nil }
            self = .int(int)
        default: return nil
        }
    }

    public var json: JSONValue {
        switch self {
        case .int(let int): .int(int)
        case .string(let string): .string(string)
        }
    }

    public var description: String {
        switch self {
        case .int(let int): String(int)
        case .string(let string): string
        }
    }
}
