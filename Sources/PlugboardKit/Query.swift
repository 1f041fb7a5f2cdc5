import CPlugboard
import PlugboardJSON

/// A value bound to a positional query parameter, or read from a result row.
public enum QueryValue: Sendable, Equatable, Codable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral, ExpressibleByNilLiteral
{
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)

    /// The value as an integer (integral numbers only).
    public var integer: Int64? {
        switch self {
        case .int(let value): value
        case .double(let value): Int64(exactly: value)
        default: nil
        }
    }

    /// The value as a number, integer or not.
    public var number: Double? {
        switch self {
        case .int(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }

    public var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(nilLiteral: ()) { self = .null }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let bool = try? container.decode(Bool.self) {
            self = .bool(bool)
        } else if let int = try? container.decode(Int64.self) {
            self = .int(int)
        } else if let double = try? container.decode(Double.self) {
            self = .double(double)
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        }
    }
}

extension QueryValue {
    var json: JSONValue {
        switch self {
        case .null: .null
        case .bool(let value): .bool(value)
        case .int(let value): .int(value)
        case .double(let value): .double(value)
        case .string(let value): .string(value)
        }
    }

    /// Cells are scalars; anything else (JSON columns) arrives as its JSON text.
    init(_ json: JSONValue) {
        switch json {
        case .null: self = .null
        case .bool(let value): self = .bool(value)
        case .int(let value): self = .int(value)
        case .double(let value): self = .double(value)
        case .string(let value): self = .string(value)
        case .array, .object: self = .string(json.jsonString)
        }
    }
}

/// Rows returned by a scoped query.
public struct QueryResult: Sendable {
    public let columns: [String]
    public let rows: [[QueryValue]]
    /// True when the tool's row cap cut the result short.
    public let truncated: Bool

    init(json: JSONValue) throws(QueryError) {
        guard let columns = json["columns"]?.arrayValue, let rows = json["rows"]?.arrayValue else {
            throw QueryError(status: PB_INTERNAL_ERROR, message: "the host's query reply has no columns or rows")
        }
        self.columns = columns.map { $0.stringValue ?? "" }
        self.rows = rows.map { row in (row.arrayValue ?? []).map(QueryValue.init) }
        self.truncated = json["truncated"]?.boolValue ?? false
    }
}

/// A scoped query the host refused or could not run.
public struct QueryError: Error, Sendable, CustomStringConvertible {
    public let status: Int32
    public let message: String
    public var description: String { message }
}
