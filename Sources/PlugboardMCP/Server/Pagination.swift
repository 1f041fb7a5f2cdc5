import PlugboardJSON

/// Opaque list cursors. A cursor names the offset of the next page; clients must not build them.
enum Pagination {
    private static let prefix = "pb1."

    static func page(_ items: [JSONValue], cursor: JSONValue?, size: Int) throws(MCPError) -> (items: [JSONValue], next: String?) {
        var start = 0
        if let cursor, cursor != .null {
            guard let text = cursor.stringValue, text.hasPrefix(prefix), let offset = Int(text.dropFirst(prefix.count)),
                offset >= 0, offset <= items.count
            else {
                throw MCPError(.invalidParams, "Invalid cursor: pass the nextCursor of a previous page, or none for the first page")
            }
            start = offset
        }
        let end = min(start + size, items.count)
        return (Array(items[start..<end]), end < items.count ? "\(prefix)\(end)" : nil)
    }
}
