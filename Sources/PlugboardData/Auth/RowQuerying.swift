import PostgresNIO

/// One parameterised statement with rows back, the same text on both backends: the auth tables
/// use only integers and text, written with SQLite's `?1` placeholders, which become PostgreSQL's
/// `$1` outside quoted text.
protocol RowQuerying: Sendable {
    func rows(_ sql: String, _ parameters: [SQLValue]) async throws -> [[SQLValue]]
}

extension SQLiteStore: RowQuerying {
    func rows(_ sql: String, _ parameters: [SQLValue]) async throws -> [[SQLValue]] {
        try await executor.run { connection in try connection.rows(sql, parameters) }
    }
}

extension PostgresStore: RowQuerying {
    func rows(_ sql: String, _ parameters: [SQLValue]) async throws -> [[SQLValue]] {
        var bindings = PostgresBindings(capacity: parameters.count)
        for parameter in parameters {
            switch parameter {
            case .null: bindings.appendNull()
            case .integer(let value): bindings.append(value)
            case .real(let value): bindings.append(value)
            case .text(let value): bindings.append(value)
            }
        }
        let query = PostgresQuery(unsafeSQL: Self.postgresPlaceholders(sql), binds: bindings)
        var result: [[SQLValue]] = []
        for try await row in try await pool.client.query(query, logger: logger) {
            result.append(
                try row.map { cell -> SQLValue in
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

extension PostgresStore {
    /// `?1` → `$1`, leaving a `?` inside quotes or not followed by a digit alone.
    static func postgresPlaceholders(_ sql: String) -> String {
        var output = ""
        var quote: Character?
        var previous: Character?
        for character in sql {
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "'" || character == "\"" {
                quote = character
            }
            if character.isNumber, previous == "?", quote == nil {
                output.removeLast()
                output.append("$")
            }
            output.append(character)
            previous = character
        }
        return output
    }
}
