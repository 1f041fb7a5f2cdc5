import PlugboardJSON

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What a tool returns: content blocks for the model and, optionally, a structured value that
/// matches the tool's `output_schema`.
public struct ToolResult: Sendable {
    public var content: [Content]
    /// The structured value, already encoded as JSON.
    var structuredJSON: [UInt8]?
    public var isError: Bool

    public init(content: [Content], isError: Bool = false) {
        self.content = content
        self.isError = isError
    }

    /// Plain text for the model.
    public static func text(_ text: String) -> ToolResult {
        ToolResult(content: [.text(text)])
    }

    /// A structured value (for tools with an `output_schema`). The host adds the same JSON as a
    /// text block for clients that only read text content. Keys keep the order the type encodes
    /// them in; dates become ISO 8601 strings (see `JSONValueEncoder`).
    public static func structured<Value: Encodable>(_ value: Value) -> ToolResult {
        do {
            let json = try JSONValueEncoder().encode(value).jsonBytes
            var result = ToolResult(content: [])
            result.structuredJSON = json
            return result
        } catch {
            return .error("the tool's result could not be encoded as JSON: \(error)")
        }
    }

    /// A failure the model can act on. Throwing `ToolError` does the same.
    public static func error(_ message: String) -> ToolResult {
        ToolResult(content: [.text(message)], isError: true)
    }

    /// The MCP CallToolResult object, as the ABI expects it.
    func encoded() -> [UInt8] {
        var out: [UInt8] = Array(#"{"content":["#.utf8)
        out.reserveCapacity(64 + (structuredJSON?.count ?? 0))
        for (offset, block) in content.enumerated() {
            if offset > 0 { out.append(UInt8(ascii: ",")) }
            block.json.write(to: &out)
        }
        out.append(UInt8(ascii: "]"))
        if let structuredJSON {
            out += Array(#","structuredContent":"#.utf8)
            out += structuredJSON
        }
        if isError { out += Array(#","isError":true"#.utf8) }
        out.append(UInt8(ascii: "}"))
        return out
    }
}

/// A content block of a tool result.
public enum Content: Sendable {
    case text(String)
    /// Base64-encoded image data.
    case image(base64: String, mimeType: String)
    /// A link to a resource the client may read.
    case resourceLink(uri: String, name: String, mimeType: String? = nil, description: String? = nil)
    /// A resource's text embedded in the result.
    case embeddedText(uri: String, text: String, mimeType: String? = nil)

    var json: JSONValue {
        switch self {
        case .text(let text):
            return ["type": "text", "text": .string(text)]
        case .image(let data, let mimeType):
            return ["type": "image", "data": .string(data), "mimeType": .string(mimeType)]
        case .resourceLink(let uri, let name, let mimeType, let description):
            var object: JSONObject = ["type": "resource_link", "uri": .string(uri), "name": .string(name)]
            if let mimeType { object["mimeType"] = .string(mimeType) }
            if let description { object["description"] = .string(description) }
            return .object(object)
        case .embeddedText(let uri, let text, let mimeType):
            var resource: JSONObject = ["uri": .string(uri), "text": .string(text)]
            if let mimeType { resource["mimeType"] = .string(mimeType) }
            return ["type": "resource", "resource": .object(resource)]
        }
    }
}
