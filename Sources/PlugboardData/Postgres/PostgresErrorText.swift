import PostgresNIO

/// PSQLError's own description hides the server's message behind a generic code; the operator
/// needs the message (or, when the server was never reached, the connection failure).
enum PostgresErrorText {
    static func describe(_ error: any Error) -> String {
        guard let error = error as? PSQLError else {
            if let transaction = error as? PostgresTransactionError {
                return describe(transaction.closureError ?? transaction.beginError ?? transaction.commitError ?? transaction.rollbackError ?? error)
            }
            return "\(error)"
        }
        if let message = error.serverInfo?[.message] {
            return message
        }
        if let underlying = error.underlying {
            return "\(error.code): \(underlying)"
        }
        return "\(error.code)"
    }
}

extension PostgresErrorText {
    /// A server message as a plugin may read it: where PostgreSQL quotes the statement it ran
    /// ("syntax error at or near …"), the quote is cut to the plugin's own text, so nothing the
    /// host wrote around it (the row cap's `) AS … LIMIT n`) ever shows.
    /// - Parameters:
    ///   - position: the error's position field: 1-based, in characters of the text sent.
    ///   - statement: the plugin's statement as sent, inside that text.
    ///   - offset: where `statement` starts in the text sent, in characters.
    static func plugin(_ message: String, position: String?, statement: Substring, offset: Int) -> String {
        let endOfInput = " at end of input"
        if message.hasSuffix(endOfInput) {
            return message.dropLast(endOfInput.count) + " at the end of the statement"
        }
        let near = " at or near \""
        guard let quote = message.range(of: near) else { return message }
        let head = message[..<quote.lowerBound]
        let quoted = message[quote.upperBound...].dropLast(message.hasSuffix("\"") ? 1 : 0)
        let characters = Array(statement.unicodeScalars)
        guard let position = position.flatMap(Int.init), position - 1 - offset >= 0 else { return String(head) }
        let start = position - 1 - offset
        // The quoted text starts after the plugin's statement: what is wrong is where it ends.
        guard start < characters.count else { return head + " at the end of the statement" }
        let own = characters[start..<min(characters.count, start + quoted.unicodeScalars.count)]
        var text = String(String.UnicodeScalarView(own))
        while text.last?.isNewline == true { text.removeLast() }
        return head + near + text + "\""
    }
}
