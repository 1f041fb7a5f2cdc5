/// A `config.yaml` overlay on one tool: rename it, sharpen its description or switch it off
/// without touching the plugin folder.
public struct ToolOverlay: Sendable, Equatable {
    public var name: String?
    public var description: String?
    public var enabled: Bool?

    public init(name: String? = nil, description: String? = nil, enabled: Bool? = nil) {
        self.name = name
        self.description = description
        self.enabled = enabled
    }
}
