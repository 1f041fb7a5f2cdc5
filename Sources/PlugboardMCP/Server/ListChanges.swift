/// Which lists changed, so listening clients can be told (`notifications/*/list_changed`).
public struct ListChanges: Sendable, Equatable {
    public var tools: Bool
    public var resources: Bool
    public var prompts: Bool

    public init(tools: Bool, resources: Bool, prompts: Bool) {
        self.tools = tools
        self.resources = resources
        self.prompts = prompts
    }

    public static let none = ListChanges(tools: false, resources: false, prompts: false)

    public var isEmpty: Bool { !tools && !resources && !prompts }
}
