/// A value going into or out of the host's own tables, on SQLite or PostgreSQL: they use only
/// integers, text and (SQLite's audit durations) reals.
enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)

    var text: String? {
        if case .text(let text) = self { return text }
        return nil
    }

    var integer: Int64? {
        if case .integer(let int) = self { return int }
        return nil
    }
}
