/// A JSON object that remembers key order. Lookups are linear, which beats hashing for the
/// handful of keys that MCP messages and schemas carry.
public struct JSONObject: Sendable, Equatable {
    public private(set) var entries: [(key: String, value: JSONValue)]

    public init() { self.entries = [] }

    /// A later entry with a key already seen replaces the earlier one's value.
    public init(_ entries: [(key: String, value: JSONValue)]) {
        guard entries.count > 16 else {
            self.entries = []
            self.entries.reserveCapacity(entries.count)
            for entry in entries { self[entry.key] = entry.value }
            return
        }
        // Large objects (encoded dictionaries): index by key instead of scanning.
        var positions: [String: Int] = [:]
        var unique: [(key: String, value: JSONValue)] = []
        unique.reserveCapacity(entries.count)
        for entry in entries {
            if let position = positions[entry.key] {
                unique[position].value = entry.value
            } else {
                positions[entry.key] = unique.count
                unique.append(entry)
            }
        }
        self.entries = unique
    }

    public var isEmpty: Bool { entries.isEmpty }
    public var count: Int { entries.count }
    public var keys: [String] { entries.map(\.key) }

    public subscript(key: String) -> JSONValue? {
        get {
            for entry in entries where entry.key == key { return entry.value }
            return nil
        }
        set {
            if let index = entries.firstIndex(where: { $0.key == key }) {
                if let newValue { entries[index].value = newValue } else { entries.remove(at: index) }
            } else if let newValue {
                entries.append((key, newValue))
            }
        }
    }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.entries.count == rhs.entries.count else { return false }
        for entry in lhs.entries where rhs[entry.key] != entry.value { return false }
        return true
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements.map { (key: $0.0, value: $0.1) })
    }
}
