import PostgresNIO

/// One parameterised statement with rows back, the same text on both backends: the auth tables
/// use only integers and text, and `?1`-style placeholders become `$1` for PostgreSQL.
protocol RowQuerying: Sendable {
    func rows(_ sql: String, _ parameters: [SQLiteValue]) async throws -> [[SQLiteValue]]
}

extension SQLiteStore: RowQuerying {
    func rows(_ sql: String, _ parameters: [SQLiteValue]) async throws -> [[SQLiteValue]] {
        try await executor.run { connection in try connection.rows(sql, parameters) }
    }
}

extension PostgresStore: RowQuerying {
    func rows(_ sql: String, _ parameters: [SQLiteValue]) async throws -> [[SQLiteValue]] {
        var bindings = PostgresBindings(capacity: parameters.count)
        for parameter in parameters {
            switch parameter {
            case .null: bindings.appendNull()
            case .integer(let value): bindings.append(value)
            case .real(let value): bindings.append(value)
            case .text(let value): bindings.append(value)
            }
        }
        let query = PostgresQuery(unsafeSQL: sql.replacingOccurrences(of: "?", with: "$"), binds: bindings)
        var result: [[SQLiteValue]] = []
        for try await row in try await pool.client.query(query, logger: logger) {
            result.append(
                try row.map { cell -> SQLiteValue in
                    guard cell.bytes != nil else { return .null }
                    switch cell.dataType {
                    case .int2, .int4, .int8: return .integer(try cell.decode(Int64.self))
                    case .float4, .float8: return .real(try cell.decode(Double.self))
                    default: return .text(try cell.decode(String.self))
                    }
                })
        }
        return result
    }
}
