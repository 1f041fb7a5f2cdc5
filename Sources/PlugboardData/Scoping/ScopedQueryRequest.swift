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
