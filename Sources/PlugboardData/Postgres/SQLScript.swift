/// Splits a SQL script into statements: the PostgreSQL driver sends each query through the
/// extended protocol, which takes one statement at a time. Semicolons inside quotes, quoted
/// identifiers, dollar-quoted bodies and comments do not split.
public enum SQLScript {
    public static func statements(_ script: String) -> [String] {
        let bytes = Array(script.utf8)
        var statements: [String] = []
        var start = 0
        var index = 0
        func flush(upTo end: Int) {
            let text = String(decoding: bytes[start..<end], as: UTF8.self)
            if !StatementGateWords.isBlank(text) { statements.append(text) }
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "-"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "-") {
                while index < bytes.count, bytes[index] != UInt8(ascii: "\n") { index += 1 }
            } else if byte == UInt8(ascii: "/"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "*") {
                index += 2
                while index + 1 < bytes.count, !(bytes[index] == UInt8(ascii: "*") && bytes[index + 1] == UInt8(ascii: "/")) { index += 1 }
                index += 2
            } else if byte == UInt8(ascii: "'") || byte == UInt8(ascii: "\"") {
                index += 1
                while index < bytes.count {
                    if bytes[index] == byte {
                        if index + 1 < bytes.count, bytes[index + 1] == byte {
                            index += 2
                            continue
                        }
                        break
                    }
                    index += 1
                }
                index += 1
            } else if byte == UInt8(ascii: "$"), let tagEnd = bytes[(index + 1)...].firstIndex(of: UInt8(ascii: "$")),
                bytes[(index + 1)..<tagEnd].allSatisfy({ $0 == UInt8(ascii: "_") || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) })
            {
                let tag = Array(bytes[index...tagEnd])
                index = tagEnd + 1
                while index + tag.count <= bytes.count, Array(bytes[index..<index + tag.count]) != tag { index += 1 }
                index += tag.count
            } else if byte == UInt8(ascii: ";") {
                flush(upTo: index)
                start = index + 1
                index += 1
            } else {
                index += 1
            }
        }
        if start < bytes.count { flush(upTo: bytes.count) }
        return statements
    }
}

enum StatementGateWords {
    /// True when the text holds nothing but whitespace and comments.
    static func isBlank(_ text: String) -> Bool {
        StatementGate.words(text)?.isEmpty ?? false
    }
}
