import PlugboardJSON

/// How the server introduces itself to clients.
public struct ServerDescription: Sendable {
    public var name: String
    public var version: String
    public var title: String?
    public var instructions: String?
    /// True when the catalog can change while the server runs (hot reload), so clients are told
    /// about list changes and should listen for them.
    public var listsCanChange: Bool
    /// How long (ms) a client may cache list results before asking again (2026-07-28 `ttlMs`).
    public var listTTLMilliseconds: Int

    public init(name: String, version: String, title: String? = nil, instructions: String? = nil,
                listsCanChange: Bool = false, listTTLMilliseconds: Int = 60_000) {
        self.name = name
        self.version = version
        self.title = title
        self.instructions = instructions
        self.listsCanChange = listsCanChange
        self.listTTLMilliseconds = listTTLMilliseconds
    }

    /// The `serverInfo` / `Implementation` object.
    public var implementation: JSONValue {
        var object: JSONObject = ["name": .string(name), "version": .string(version)]
        if let title { object["title"] = .string(title) }
        return .object(object)
    }

    /// The server capabilities: only what is implemented is declared.
    public var capabilities: JSONValue {
        let listChanged = JSONValue.bool(listsCanChange)
        return [
            "tools": ["listChanged": listChanged],
            "resources": ["listChanged": listChanged, "subscribe": false],
            "prompts": ["listChanged": listChanged],
            "completions": .object(JSONObject()),
        ]
    }
}
