/// Splits a SQL script into statements: the PostgreSQL driver sends each query through the
/// extended protocol, which takes one statement at a time. Semicolons inside quotes, quoted
/// identifiers, dollar-quoted bodies and comments do not split.
public enum SQLScript {
    public static func statements(_ script: String) -> [String] {
        let bytes = Array(script.utf8)
        // With a quote never closed, the whole script goes as one, and the database names the problem.
        let ends = (StatementGate.tokens(script) ?? []).filter(\.isSemicolon).map(\.offset) + [bytes.count]
        var statements: [String] = []
        var start = 0
        for end in ends {
            let text = String(decoding: bytes[start..<end], as: UTF8.self)
            if StatementGate.tokens(text).map({ !$0.isEmpty }) ?? true { statements.append(text) }
            start = end + 1
        }
        return statements
    }
}
