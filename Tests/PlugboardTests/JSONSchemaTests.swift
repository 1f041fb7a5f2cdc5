import PlugboardJSON
import Testing

@Suite("JSON Schema")
struct JSONSchemaTests {
    let schema: JSONSchema

    init() throws {
        schema = try JSONSchema(
            try JSONValue(
                parsing: """
                    {"type":"object","properties":{
                      "name":{"type":"string","minLength":2,"maxLength":5,"pattern":"^[a-z]+$"},
                      "count":{"type":"integer","minimum":1,"maximum":10},
                      "ratio":{"type":"number","exclusiveMaximum":1},
                      "tags":{"type":"array","items":{"type":"string"},"maxItems":2,"uniqueItems":true},
                      "mode":{"enum":["fast","slow"]},
                      "nested":{"$ref":"#/$defs/point"},
                      "either":{"anyOf":[{"type":"string"},{"type":"integer"}]}
                    },
                    "required":["name"],
                    "additionalProperties":false,
                    "$defs":{"point":{"type":"object","properties":{"x":{"type":"number"}},"required":["x"]}}}
                    """))
    }

    @Test("accepts a valid instance")
    func valid() throws {
        let instance = try JSONValue(parsing: #"{"name":"abc","count":3.0,"ratio":0.5,"tags":["a","b"],"mode":"fast","nested":{"x":1},"either":2}"#)
        #expect(schema.validate(instance).isEmpty)
    }

    @Test("reports each violation with a JSON Pointer", arguments: [
        (#"{}"#, "missing required property 'name'"),
        (#"{"name":"a"}"#, "/name: must be at least 2 characters long"),
        (#"{"name":"ABC"}"#, "/name: must match the pattern ^[a-z]+$"),
        (#"{"name":"abc","count":"3"}"#, "/count: expected integer, got string \"3\""),
        (#"{"name":"abc","count":2.5}"#, "/count: expected integer, got number 2.5"),
        (#"{"name":"abc","count":11}"#, "/count: must be <= 10"),
        (#"{"name":"abc","ratio":1}"#, "/ratio: must be < 1"),
        (#"{"name":"abc","tags":["a","a"]}"#, "/tags: items must be unique (items 0 and 1 are equal)"),
        (#"{"name":"abc","tags":["a",1]}"#, "/tags/1: expected string, got integer 1"),
        (#"{"name":"abc","mode":"medium"}"#, #"/mode: must be one of "fast", "slow", got string "medium""#),
        (#"{"name":"abc","nested":{}}"#, "/nested: missing required property 'x'"),
        (#"{"name":"abc","either":true}"#, "/either: does not match any of the allowed forms (anyOf)"),
        (#"{"name":"abc","extra":1}"#, "unknown property 'extra'"),
    ])
    func violations(instance: String, expected: String) throws {
        let found = schema.validate(try JSONValue(parsing: instance)).map(\.description)
        #expect(found.contains { $0.hasPrefix(expected) }, "got \(found)")
    }

    @Test("refuses malformed schemas, naming the keyword", arguments: [
        (#"{"type":"strin"}"#, "type: unknown type 'strin'"),
        (#"{"properties":[]}"#, "properties: expected an object"),
        (#"{"required":"name"}"#, "required: expected an array"),
        (#"{"minimum":"1"}"#, "minimum: expected a number"),
        (#"{"pattern":"(["}"#, "pattern: invalid regular expression"),
        (#"{"$ref":"https://example.com/s.json"}"#, "$ref: only local references"),
        (##"{"$ref":"#/$defs/missing"}"##, "reference '#/$defs/missing' points at nothing"),
        (#"{"properties":{"a":{"maxLength":-1}}}"#, "properties.a.maxLength: expected a non-negative integer"),
        (#"3"#, "a schema must be an object or a boolean"),
    ])
    func malformedSchemas(schema: String, expected: String) throws {
        let error = #expect(throws: JSONSchemaError.self) { try JSONSchema(try JSONValue(parsing: schema)) }
        #expect(error?.description.contains(expected) == true, "got \(String(describing: error))")
    }

    @Test("a recursive schema validates without looping")
    func recursion() throws {
        let tree = try JSONSchema(
            try JSONValue(parsing: ##"{"$defs":{"node":{"type":"object","properties":{"children":{"type":"array","items":{"$ref":"#/$defs/node"}}}}},"$ref":"#/$defs/node"}"##))
        #expect(tree.validate(try JSONValue(parsing: #"{"children":[{"children":[{}]}]}"#)).isEmpty)
        #expect(!tree.validate(try JSONValue(parsing: #"{"children":[{"children":[3]}]}"#)).isEmpty)
    }
}
