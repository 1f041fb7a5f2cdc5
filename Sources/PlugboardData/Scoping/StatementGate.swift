/// The first, lexical check on a plugin's SQL, before the database sees it: what kind of
/// statement it is. Defence in depth: the database's own checks are what guarantee scoping.
enum StatementGate {
    static let readKinds: Set<String> = ["SELECT", "WITH", "VALUES"]
    static let writeKinds: Set<String> = ["SELECT", "WITH", "VALUES", "INSERT", "UPDATE", "DELETE"]

    /// Why the statement is refused, or nil if it may go on.
    static func refusal(_ sql: String, writes: Bool) -> String? {
        if sql.utf8.contains(0) { return "the statement contains a NUL byte" }
        guard let words = words(sql) else { return "the statement has an unterminated quote" }
        guard let first = words.first else { return "the statement is empty" }
        guard (writes ? writeKinds : readKinds).contains(first) else {
            return writes
                ? "only SELECT, WITH, VALUES, INSERT, UPDATE and DELETE statements are allowed, not \(first)"
                : "this tool is read-only: only SELECT, WITH and VALUES statements are allowed, not \(first)"
        }
        for (word, next) in zip(words, words.dropFirst()) {
            // Conflict clauses turn the scoping triggers' inserts into replaces of other owners' rows.
            if (word == "INSERT" || word == "UPDATE") && next == "OR" { return "\(word) OR ... conflict clauses are not allowed" }
            if word == "REPLACE" && next == "INTO" { return "REPLACE INTO is not allowed" }
        }
        return nil
    }

    /// The bare words outside strings, quoted identifiers and comments, upper-cased, in order;
    /// nil when a quote is never closed.
    static func words(_ sql: String) -> [String]? {
        let bytes = Array(sql.utf8)
        var words: [String] = []
        var index = 0
        func starts(_ text: String, at offset: Int) -> Bool {
            let pattern = Array(text.utf8)
            return offset + pattern.count <= bytes.count && Array(bytes[offset..<offset + pattern.count]) == pattern
        }
        while index < bytes.count {
            let byte = bytes[index]
            if starts("--", at: index) {
                while index < bytes.count, bytes[index] != UInt8(ascii: "\n") { index += 1 }
            } else if starts("/*", at: index) {
                index += 2
                while index < bytes.count, !starts("*/", at: index) { index += 1 }
                index += 2
            } else if byte == UInt8(ascii: "'") || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "`") || byte == UInt8(ascii: "[") {
                let close = byte == UInt8(ascii: "[") ? UInt8(ascii: "]") : byte
                index += 1
                while true {
                    guard index < bytes.count else { return nil }
                    if bytes[index] == close {
                        if close != UInt8(ascii: "]"), index + 1 < bytes.count, bytes[index + 1] == close {
                            index += 2
                            continue
                        }
                        index += 1
                        break
                    }
                    index += 1
                }
            } else if isWordStart(byte) {
                let start = index
                while index < bytes.count, isWordByte(bytes[index]) { index += 1 }
                words.append(String(decoding: bytes[start..<index], as: UTF8.self).uppercased())
            } else {
                index += 1
            }
        }
        return words
    }

    private static func isWordStart(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || byte == UInt8(ascii: "_")
    }

    private static func isWordByte(_ byte: UInt8) -> Bool {
        isWordStart(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "$") || byte >= 0x80
    }
}
