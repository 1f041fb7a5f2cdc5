import CPlugboard

/// Rewrites a plugin's statement so that PostgreSQL plans every CTE and subquery once, instead of
/// inlining it into the query around it. Inlining copies a subquery's expression into each place
/// that names its column, and nested inlining multiplies the copies: an 800-byte statement of 21
/// CTEs, each adding the previous one's column to itself, was planned for 12.9 s into 3.1 GB under
/// a 3 s `statement_timeout`, which the planner does not check while it copies. A `MATERIALIZED`
/// CTE, and a subquery fenced with `OFFSET 0`, are planned on their own whatever refers to them
/// (the same 21 levels: a few milliseconds). Results are the same; a query that relied on
/// inlining for its plan may run slower, which on one owner's rows is the cheaper risk.
enum PlanFences {
    /// Words that start a query inside parentheses.
    static let queryStarts: Set<String> = ["SELECT", "WITH", "VALUES", "TABLE"]
    /// What a CTE's body may start with (a data-modifying CTE too).
    static let cteBodyStarts: Set<String> = queryStarts.union(["INSERT", "UPDATE", "DELETE", "("])

    static func apply(to statement: StatementGate.Statement) throws(QueryRefusal) -> StatementGate.Statement {
        let sql = String(statement.body)
        guard let tokens = try? StatementGate.scan(sql, parentheses: true) else { return statement }
        var closing: [Int: Int] = [:]  // index of a "(" token: index of its ")"
        var open: [Int] = []
        for (index, token) in tokens.enumerated() {
            if token.text == "(" {
                open.append(index)
            } else if token.text == ")", let start = open.popLast() {
                closing[start] = index
            }
        }
        func text(_ index: Int) -> String? { tokens.indices.contains(index) ? tokens[index].text : nil }
        // (byte offset, text); a fence's two halves go in at its parentheses.
        var inserts: [(offset: Int, text: String)] = []
        for (index, token) in tokens.enumerated() {
            if token.text == "AS", text(index + 1) == "NOT", text(index + 2) == "MATERIALIZED" {
                throw QueryRefusal("query refused: NOT MATERIALIZED is not allowed (every CTE is materialized here)", status: PB_INVALID_ARGUMENTS)
            }
            // `name AS (SELECT ...)`: a CTE, materialized. `AS (a int, ...)` after a function
            // returning records is a column list, left alone.
            if token.text == "AS", text(index + 1) == "(", let first = text(index + 2), cteBodyStarts.contains(first) {
                inserts.append((token.offset + 2, " MATERIALIZED"))
            }
            // `(SELECT ...)` anywhere but a CTE's own parentheses: fenced.
            if token.text == "(", let first = text(index + 1), queryStarts.contains(first), let end = closing[index],
                text(index - 1) != "AS", text(index - 1) != "MATERIALIZED"
            {
                inserts.append((token.offset + 1, "SELECT * FROM ("))
                inserts.append((tokens[end].offset, ") AS pb_fence OFFSET 0"))
            }
        }
        guard !inserts.isEmpty else { return statement }
        inserts.sort { $0.offset < $1.offset }
        let bytes = Array(sql.utf8)
        var rewritten: [UInt8] = []
        rewritten.reserveCapacity(bytes.count + inserts.reduce(0) { $0 + $1.text.utf8.count })
        var insertions: [StatementGate.Insertion] = []
        var copied = 0
        var characters = 0
        for insert in inserts {
            let piece = bytes[copied..<insert.offset]
            rewritten += piece
            // Characters, as PostgreSQL counts positions: the bytes that do not continue one.
            characters += piece.reduce(0) { $0 + ($1 & 0xC0 == 0x80 ? 0 : 1) }
            copied = insert.offset
            rewritten += Array(insert.text.utf8)
            insertions.append(.init(at: characters, length: insert.text.utf8.count))
        }
        rewritten += bytes[copied...]
        var fenced = statement
        fenced.body = Substring(String(decoding: rewritten, as: UTF8.self))
        fenced.insertions = insertions
        return fenced
    }
}
