import PlugboardJSON

/// What a plugin's tool result must be before a client sees it: a CallToolResult object whose
/// content blocks carry the fields their type requires, and whose `structuredContent` matches the
/// tool's output schema. A plugin is not trusted to get this right.
enum ToolResultContract {
    /// Checks that a plugin's result is a well-formed CallToolResult that honours the tool's
    /// output schema, adding the text rendering of structured content when the plugin left it out.
    static func check(_ bytes: [UInt8], outputSchema: JSONSchema?) throws(InvalidResult) -> JSONValue {
        let parsed: JSONValue
        do {
            parsed = try JSONValue(parsing: bytes)
        } catch {
            throw InvalidResult("not valid JSON: \(error)")
        }
        guard var object = parsed.objectValue else { throw InvalidResult("expected a JSON object") }
        var content = [JSONValue]()
        if let value = object["content"] {
            guard let array = value.arrayValue else { throw InvalidResult("'content' must be an array") }
            content = array
        }
        for (offset, block) in content.enumerated() {
            guard let type = block["type"]?.stringValue else { throw InvalidResult("content[\(offset)] has no 'type'") }
            let required: [String] =
                switch type {
                case "text": ["text"]
                case "image", "audio": ["data", "mimeType"]
                case "resource_link": ["uri", "name"]
                case "resource": ["resource"]
                default: throw InvalidResult("content[\(offset)] has the unknown type '\(type)'")
                }
            for field in required where block[field] == nil {
                throw InvalidResult("content[\(offset)] of type '\(type)' lacks '\(field)'")
            }
        }
        let isError = object["isError"]?.boolValue ?? false
        if let structured = object["structuredContent"] {
            if content.isEmpty { content = [["type": "text", "text": .string(structured.jsonString)]] }
        }
        if let outputSchema, !isError {
            guard let structured = object["structuredContent"] else {
                throw InvalidResult("the tool declares an output_schema but the result has no structuredContent")
            }
            let violations = outputSchema.validate(structured)
            guard violations.isEmpty else {
                throw InvalidResult("structuredContent does not match the output_schema: \(violations.map(\.description).joined(separator: "; "))")
            }
        }
        object["content"] = .array(content)
        return .object(object)
    }
}

/// A plugin result that breaks the CallToolResult contract.
struct InvalidResult: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
