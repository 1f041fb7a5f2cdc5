/// The first, lexical check on a plugin's SQL, before the database sees it: what kind of
/// statement it is. Defence in depth: the database's own checks are what guarantee scoping.
enum StatementGate {
    static let readKinds: Set<String> = ["SELECT", "WITH", "VALUES"]
    static let writeKinds: Set<String> = ["SELECT", "WITH", "VALUES", "INSERT", "UPDATE", "DELETE"]

    /// A statement the gate let through.
    struct Statement {
        /// Its first word, upper-cased (SELECT, WITH, INSERT ...).
        let kind: String
        /// The statement without its terminating `;` and what follows it (only comments): what
        /// the database is sent, after any rewrite (`PlanFences`).
        var body: Substring
        /// The plugin's own text, for error messages.
        var original: Substring
        /// What a rewrite inserted, in characters of `original`, in order.
        var insertions: [Insertion] = []
        var isRead: Bool { readKinds.contains(kind) }

        init(kind: String, body: Substring) {
            self.kind = kind
            self.body = body
            self.original = body
        }

        /// Where character `position` (0-based) of `body` comes from in `original`: inside
        /// inserted text, the plugin's character that follows it.
        func originalPosition(of position: Int) -> Int {
            var shift = 0
            for insertion in insertions {
                let start = insertion.at + shift
                if position < start { break }
                if position < start + insertion.length { return insertion.at }
                shift += insertion.length
            }
            return position - shift
        }
    }

    /// Text a rewrite put in before character `at` of the plugin's statement.
    struct Insertion: Equatable {
        let at: Int
        let length: Int
    }

    static func check(_ sql: String, writes: Bool) throws(QueryRefusal) -> Statement {
        if sql.utf8.contains(0) { throw QueryRefusal("the statement contains a NUL byte") }
        let tokens: [Token]
        do {
            tokens = try scan(sql)
        } catch {
            // Refused here, the database never quotes the open text together with what the host
            // writes after the statement (the row cap's closing parenthesis and LIMIT).
            throw QueryRefusal("the statement has an unterminated \(error.what)")
        }
        let end = tokens.firstIndex(where: \.isSemicolon)
        if let end, tokens[end...].contains(where: { !$0.isSemicolon }) {
            throw QueryRefusal("one statement per call: remove what follows the ';'")
        }
        let words = tokens.prefix(upTo: end ?? tokens.endIndex).map(\.text)
        guard let first = words.first else { throw QueryRefusal("the statement is empty") }
        guard (writes ? writeKinds : readKinds).contains(first) else {
            throw QueryRefusal(
                writes
                    ? "only SELECT, WITH, VALUES, INSERT, UPDATE and DELETE statements are allowed, not \(first)"
                    : "this tool is read-only: only SELECT, WITH and VALUES statements are allowed, not \(first)")
        }
        for (word, next) in zip(words, words.dropFirst()) {
            // Conflict clauses turn the scoping triggers' inserts into replaces of other owners' rows.
            if (word == "INSERT" || word == "UPDATE") && next == "OR" { throw QueryRefusal("\(word) OR ... conflict clauses are not allowed") }
            if word == "REPLACE" && next == "INTO" { throw QueryRefusal("REPLACE INTO is not allowed") }
        }
        let body = end.flatMap { Substring(sql.utf8.prefix(tokens[$0].offset)) } ?? Substring(sql)
        return Statement(kind: first, body: body)
    }

    /// A bare word (upper-cased) or `;`, outside strings, quoted identifiers and comments.
    struct Token {
        let text: String
        /// Where it starts, in UTF-8 bytes.
        let offset: Int
        var isSemicolon: Bool { text == ";" }
    }

    /// Something opened and never closed: a quote, a quoted identifier, a dollar quote or a comment.
    struct Unterminated: Error {
        /// What was left open, as the refusal names it.
        let what: String
    }

    /// The words and semicolons of `sql` in order; nil when a quote or comment is never closed.
    static func tokens(_ sql: String) -> [Token]? {
        try? scan(sql)
    }

    /// The words and semicolons of `sql` in order. Knows SQLite's and PostgreSQL's quotes, including
    /// PostgreSQL's `$tag$` dollar quotes and `E'...'` strings with backslash escapes, and nests
    /// `/* */` comments as PostgreSQL does. Wherever the two databases read text differently, the
    /// gate takes the reading that refuses more: SQLite ends an unterminated comment at the end of
    /// the input and does not nest comments, and the gate refuses both.
    /// - Parameter parentheses: also list `(` and `)` as tokens (for `PlanFences`).
    static func scan(_ sql: String, parentheses: Bool = false) throws(Unterminated) -> [Token] {
        let bytes = Array(sql.utf8)
        let count = bytes.count
        var tokens: [Token] = []
        var index = 0
        func at(_ offset: Int, _ first: UInt8, _ second: UInt8) -> Bool {
            offset + 1 < count && bytes[offset] == first && bytes[offset + 1] == second
        }
        /// The length of a `$tag$` opening a dollar quote at `offset` (not `$1`, not inside a word).
        func dollarTag(at offset: Int) -> Int? {
            guard bytes[offset] == UInt8(ascii: "$"), offset == 0 || !isWordByte(bytes[offset - 1]) else { return nil }
            var end = offset + 1
            while end < count, bytes[end] != UInt8(ascii: "$") {
                guard end == offset + 1 ? isWordStart(bytes[end]) : isWordByte(bytes[end]) else { return nil }
                end += 1
            }
            return end < count ? end - offset + 1 : nil
        }
        /// Skips a quoted text opened at `index`; a doubled closing quote stays inside, and so does
        /// a quote after a backslash when `escapes` (PostgreSQL's `E'...'`).
        func skipQuoted(close: UInt8, escapes: Bool, what: String) throws(Unterminated) {
            index += 1
            while true {
                guard index < count else { throw Unterminated(what: what) }
                if escapes, bytes[index] == UInt8(ascii: "\\") {
                    index += 2
                    continue
                }
                if bytes[index] == close {
                    if close != UInt8(ascii: "]"), index + 1 < count, bytes[index + 1] == close {
                        index += 2
                        continue
                    }
                    index += 1
                    return
                }
                index += 1
            }
        }
        while index < count {
            let byte = bytes[index]
            if at(index, UInt8(ascii: "-"), UInt8(ascii: "-")) {
                while index < count, bytes[index] != UInt8(ascii: "\n") { index += 1 }
            } else if at(index, UInt8(ascii: "/"), UInt8(ascii: "*")) {
                index += 2
                var depth = 1
                while depth > 0 {
                    guard index < count else { throw Unterminated(what: "/* comment") }
                    if at(index, UInt8(ascii: "*"), UInt8(ascii: "/")) {
                        depth -= 1
                        index += 2
                    } else if at(index, UInt8(ascii: "/"), UInt8(ascii: "*")) {
                        depth += 1
                        index += 2
                    } else {
                        index += 1
                    }
                }
            } else if let length = dollarTag(at: index) {
                let tag = bytes[index..<index + length]
                index += length
                while true {
                    guard index + length <= count else { throw Unterminated(what: "dollar-quoted string") }
                    if bytes[index..<index + length].elementsEqual(tag) {
                        index += length
                        break
                    }
                    index += 1
                }
            } else if byte == UInt8(ascii: "'") {
                try skipQuoted(close: byte, escapes: false, what: "quote")
            } else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "`") {
                try skipQuoted(close: byte, escapes: false, what: "quoted identifier")
            } else if byte == UInt8(ascii: "[") {
                try skipQuoted(close: UInt8(ascii: "]"), escapes: false, what: "[ quoted identifier")
            } else if byte == UInt8(ascii: ";") {
                tokens.append(Token(text: ";", offset: index))
                index += 1
            } else if parentheses, byte == UInt8(ascii: "(") || byte == UInt8(ascii: ")") {
                tokens.append(Token(text: byte == UInt8(ascii: "(") ? "(" : ")", offset: index))
                index += 1
            } else if isWordStart(byte) {
                let start = index
                while index < count, isWordByte(bytes[index]) { index += 1 }
                // E'...' (a lone E right before the quote) is PostgreSQL's string with backslash escapes.
                if index - start == 1, byte == UInt8(ascii: "E") || byte == UInt8(ascii: "e"), index < count, bytes[index] == UInt8(ascii: "'") {
                    try skipQuoted(close: UInt8(ascii: "'"), escapes: true, what: "quote")
                    continue
                }
                tokens.append(Token(text: String(decoding: bytes[start..<index], as: UTF8.self).uppercased(), offset: start))
            } else {
                index += 1
            }
        }
        return tokens
    }

    private static func isWordStart(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || byte == UInt8(ascii: "_")
    }

    private static func isWordByte(_ byte: UInt8) -> Bool {
        isWordStart(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "$") || byte >= 0x80
    }
}
