/// A request to render a prompt.
public struct PromptRequest: Sendable, Decodable {
    /// The arguments the client filled in.
    public let arguments: [String: String]

    private enum CodingKeys: String, CodingKey { case arguments }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        arguments = try container.decodeIfPresent([String: String].self, forKey: .arguments) ?? [:]
    }
}

/// A rendered prompt: the messages the client puts in front of the model.
public struct PromptResult: Sendable, Encodable {
    public var description: String?
    public var messages: [PromptMessage]

    public init(description: String? = nil, messages: [PromptMessage]) {
        self.description = description
        self.messages = messages
    }
}

/// One message of a prompt.
public struct PromptMessage: Sendable, Encodable {
    public enum Role: String, Sendable, Encodable {
        case user
        case assistant
    }

    public var role: Role
    public var text: String

    public init(role: Role = .user, _ text: String) {
        self.role = role
        self.text = text
    }

    private enum CodingKeys: String, CodingKey { case role, content }
    private enum ContentKeys: String, CodingKey { case type, text }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(role, forKey: .role)
        var content = container.nestedContainer(keyedBy: ContentKeys.self, forKey: .content)
        try content.encode("text", forKey: .type)
        try content.encode(text, forKey: .text)
    }
}
