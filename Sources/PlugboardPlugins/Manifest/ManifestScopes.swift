/// A manifest's `scopes:` list: plain names (`scopes: [notes:read]`), or entries that also say
/// in words what the scope lets a client do, shown to people on the consent page:
/// `scopes: [{ name: notes:read, description: Read your notes }]`. The two forms mix.
struct ManifestScopes {
    var names: [String] = []
    var descriptions: [String: String] = [:]

    init(_ node: YAMLNode?) throws(YAMLProblem) {
        guard let node else { return }
        for element in try node.sequence() {
            let name: String
            if element.node.mapping != nil {
                let fields = try element.mapping(allowed: ["name", "description"])
                guard let nameNode = fields["name"] else { throw element.error("a scope with a description needs a 'name'") }
                name = try nameNode.string()
                if let description = try fields["description"]?.string() {
                    guard !description.allSatisfy(\.isWhitespace) else { throw element.error("scope '\(name)': the description is empty") }
                    descriptions[name] = description
                }
            } else {
                name = try element.string()
            }
            // A scope travels in space-separated lists (`scope=mcp notes:read`).
            guard !name.isEmpty, !name.contains(where: \.isWhitespace) else {
                throw element.error("'\(name)' is not a scope name: scopes are single words without spaces, such as notes:read")
            }
            names.append(name)
        }
    }
}
