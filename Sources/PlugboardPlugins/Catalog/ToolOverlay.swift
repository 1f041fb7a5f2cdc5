/// A `config.yaml` overlay on one tool: rename it, sharpen its description or switch it off
/// without touching the plugin folder.
public struct ToolOverlay: Sendable, Equatable {
    public var name: String?
    public var description: String?
    public var enabled: Bool?
    /// Where it is written (config.yaml and the line of the tool's entry), for messages about it.
    public var file: String?
    public var line: Int?

    public init(name: String? = nil, description: String? = nil, enabled: Bool? = nil, file: String? = nil, line: Int? = nil) {
        self.name = name
        self.description = description
        self.enabled = enabled
        self.file = file
        self.line = line
    }
}
