import PlugboardJSON
import Testing

@testable import PlugboardPlugins

/// A plugin's result reaches a client only as a well-formed CallToolResult.
@Suite("Tool result contract")
struct ToolResultContractTests {
    static let schema = try? JSONSchema(JSONValue(parsing: #"{"type":"object","properties":{"count":{"type":"integer"}},"required":["count"]}"#))

    func check(_ text: String, schema: JSONSchema? = nil) -> Result<JSONValue, InvalidResult> {
        Result { () throws(InvalidResult) in try ToolResultContract.check(Array(text.utf8), outputSchema: schema) }
    }

    func refusal(_ text: String, schema: JSONSchema? = nil) -> String? {
        if case .failure(let error) = check(text, schema: schema) { return error.description }
        return nil
    }

    @Test("broken results are refused, naming what is wrong", arguments: [
        ("{\"content\": [", "not valid JSON"),
        ("[1]", "expected a JSON object"),
        (#"{"content":"text"}"#, "'content' must be an array"),
        (#"{"content":[{"text":"x"}]}"#, "content[0] has no 'type'"),
        (#"{"content":[{"type":"video"}]}"#, "content[0] has the unknown type 'video'"),
        (#"{"content":[{"type":"image","data":"AA=="}]}"#, "content[0] of type 'image' lacks 'mimeType'"),
        (#"{"content":[{"type":"resource_link","uri":"x://1"}]}"#, "content[0] of type 'resource_link' lacks 'name'"),
    ])
    func refusals(text: String, expected: String) {
        let reason = refusal(text)
        #expect(reason?.contains(expected) == true, "\(String(describing: reason))")
    }

    @Test("structured content must match the output schema unless the result is an error")
    func outputSchema() throws {
        #expect(refusal(#"{"content":[],"structuredContent":{"count":"many"}}"#, schema: Self.schema)?.contains("does not match the output_schema") == true)
        #expect(refusal(#"{"content":[{"type":"text","text":"x"}]}"#, schema: Self.schema)?.contains("has no structuredContent") == true)
        #expect(refusal(#"{"content":[{"type":"text","text":"failed"}],"isError":true}"#, schema: Self.schema) == nil)
        let result = try check(#"{"structuredContent":{"count":3}}"#, schema: Self.schema).get()
        // The text rendering clients without structured output read is added when missing.
        #expect(result["content"]?.arrayValue?.first?["text"] == #"{"count":3}"#)
    }
}
