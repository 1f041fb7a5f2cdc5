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
