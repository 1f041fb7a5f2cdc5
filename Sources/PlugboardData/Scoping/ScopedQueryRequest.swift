import CPlugboard
import PlugboardJSON

/// A plugin's query: `{"sql": "SELECT ... WHERE id = $1", "params": [42]}`.
struct ScopedQueryRequest {
    let sql: String
    let parameters: [JSONValue]

    init(_ bytes: [UInt8]) throws(QueryRefusal) {
        guard let request = try? JSONValue(parsing: bytes), let sql = request["sql"]?.stringValue else {
            throw QueryRefusal("the query request must be JSON: {\"sql\": \"...\", \"params\": [...]}")
        }
        self.sql = sql
        self.parameters = request["params"]?.arrayValue ?? []
        for parameter in parameters {
            switch parameter {
            case .object, .array: throw QueryRefusal("query parameters must be strings, numbers, booleans or null")
            default: continue
            }
        }
    }
}

/// Why the host refused or failed a plugin's query; the message goes back to the plugin and must
/// never name anything the plugin did not write itself.
extension ScopedQueryRequest {
    /// A plugin's query parsed and past the gate: what both backends check before any database work.
    static func admit(_ request: [UInt8], writes: Bool) throws(QueryRefusal) -> (ScopedQueryRequest, StatementGate.Statement) {
        let parsed: ScopedQueryRequest
        do {
            parsed = try ScopedQueryRequest(request)
        } catch {
            throw QueryRefusal(error.message, status: PB_INVALID_ARGUMENTS)
        }
        do {
            return (parsed, try StatementGate.check(parsed.sql, writes: writes))
        } catch {
            throw QueryRefusal("query refused: \(error.message)", status: PB_INVALID_ARGUMENTS)
        }
    }
}

struct QueryRefusal: Error, Sendable {
    let message: String
    /// PB_INVALID_ARGUMENTS when the statement itself is refused; PB_TOOL_ERROR when it failed.
    let status: Int32
    init(_ message: String, status: Int32 = PB_TOOL_ERROR) {
        self.message = message
        self.status = status
    }
}

/// Rows as the ABI returns them: `{"columns": [...], "rows": [[...]], "truncated": false}`.
struct QueryRows {
    var columns: [String]
    var rows: [[JSONValue]]
    var truncated: Bool
    var rowsAffected: Int?

    var json: JSONValue {
        var object: JSONObject = [
            "columns": .array(columns.map(JSONValue.string)),
            "rows": .array(rows.map(JSONValue.array)),
            "truncated": .bool(truncated),
        ]
        if let rowsAffected { object["rows_affected"] = .int(Int64(rowsAffected)) }
        return .object(object)
    }
}
