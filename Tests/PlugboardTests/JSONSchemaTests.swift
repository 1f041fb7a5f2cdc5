@testable import PlugboardJSON
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
        (#"{"pattern":"(["}"#, "pattern: a '[' is not closed in the regular expression (["),
        (#"{"pattern":"(a)\\1"}"#, "pattern: backreferences (\\1) need backtracking"),
        (#"{"pattern":"a(?=b)"}"#, "pattern: lookahead and lookbehind"),
        (#"{"pattern":"\\bword"}"#, "pattern: word boundaries"),
        (#"{"pattern":"a{100}{100}"}"#, "pattern: a quantifier follows another"),
        (#"{"pattern":"(a{1000}){1000}"}"#, "is too large once its {n,m} repetitions are counted out"),
        (#"{"properties":{"a":{"patternProperties":{"^x":{}}}}}"#, "properties.a.patternProperties: the keyword 'patternProperties' is not supported"),
        (#"{"if":{"required":["a"]},"then":{"required":["b"]}}"#, "the keyword '"),
        (#"{"type":"array","contains":{"const":1}}"#, "contains: the keyword 'contains' is not supported"),
        (#"{"dependentRequired":{"a":["b"]}}"#, "dependentRequired: the keyword 'dependentRequired' is not supported"),
        (#"{"propertyNames":{"maxLength":3}}"#, "propertyNames: the keyword 'propertyNames' is not supported"),
        (#"{"unevaluatedProperties":false}"#, "unevaluatedProperties: the keyword 'unevaluatedProperties' is not supported"),
        (#"{"$ref":"https://example.com/s.json"}"#, "$ref: only local references"),
        (##"{"$ref":"#/$defs/missing"}"##, "reference '#/$defs/missing' points at nothing"),
        (#"{"properties":{"a":{"maxLength":-1}}}"#, "properties.a.maxLength: expected a non-negative integer"),
        (#"3"#, "a schema must be an object or a boolean"),
    ])
    func malformedSchemas(schema: String, expected: String) throws {
        let error = #expect(throws: JSONSchemaError.self) { try JSONSchema(try JSONValue(parsing: schema)) }
        #expect(error?.description.contains(expected) == true, "got \(String(describing: error))")
    }

    @Test("patterns match as ECMA-262 does, anywhere in the string unless anchored", arguments: [
        ("^[a-z]+$", "abc", true), ("^[a-z]+$", "abC", false), ("b", "abc", true), ("^b", "abc", false), ("c$", "abc", true),
        ("^\\d{3}-\\d{4}$", "555-1234", true), ("^\\d{3}-\\d{4}$", "555-12345", false), ("^(foo|bar)+$", "foobarfoo", true),
        ("^(foo|bar)+$", "foobaz", false), ("^a{2,3}$", "a", false), ("^a{2,3}$", "aaa", true), ("^a{2,3}$", "aaaa", false),
        ("^a{2,}$", "aaaaaa", true), ("colou?r", "my color", true), ("^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$", "a@b.io", true),
        ("^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$", "a b@c.io", false), ("^\\w+$", "snake_case9", true), ("^.$", "\n", false),
        ("^[\\u0041-\\u005A]+$", "ABC", true), ("a{", "a{", true), ("^(?:x|y)*?z$", "xyxz", true), ("^(?<year>\\d{4})$", "2026", true),
        ("^[-a]$", "-", true), ("^[a-]$", "-", true), ("^\\.$", ".", true), ("^\\.$", "x", false), ("^$", "", true), ("()", "x", true),
        ("^(a|)+$", "aaa", true), ("^é+$", "éé", true), ("^[\\s\\S]*$", "any\nthing", true),
    ])
    func patterns(pattern: String, text: String, matches: Bool) throws {
        #expect(try SchemaPattern(pattern).matches(text) == matches)
    }

    @Test("catastrophic patterns run in steps linear in the input, where a backtracking engine takes exponential or cubic time", arguments: [
        "^(a+)+$", "(a|a)*b", "a*a*a*b", "(x+x+)+y", "^(a|aa)*$",
    ])
    func linearPatterns(pattern: String) throws {
        let compiled = try SchemaPattern(pattern)
        let text = String(repeating: "a", count: 10_000) + "!"
        let (matched, steps) = compiled.run(text)
        #expect(!matched)
        // Each position advances every program instruction at most a few times.
        #expect(steps < text.unicodeScalars.count * 4 * 40, "\(steps) steps")
    }

    @Test("a recursive schema validates without looping")
    func recursion() throws {
        let tree = try JSONSchema(
            try JSONValue(parsing: ##"{"$defs":{"node":{"type":"object","properties":{"children":{"type":"array","items":{"$ref":"#/$defs/node"}}}}},"$ref":"#/$defs/node"}"##))
        #expect(tree.validate(try JSONValue(parsing: #"{"children":[{"children":[{}]}]}"#)).isEmpty)
        #expect(!tree.validate(try JSONValue(parsing: #"{"children":[{"children":[3]}]}"#)).isEmpty)
    }
}
