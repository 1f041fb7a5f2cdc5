import Foundation
import PlugboardJSON
import Testing

@Suite("JSON values")
struct JSONTests {
    @Test("parses every JSON type and writes it back compactly")
    func roundTrip() throws {
        let text = #"{"a":1,"b":-2.5,"c":"x\"y\\z\n","d":[true,false,null],"e":{},"f":[],"g":1e3,"h":"\u00e9\ud83d\ude00"}"#
        let value = try JSONValue(parsing: text)
        #expect(value["a"] == .int(1))
        #expect(value["b"] == .double(-2.5))
        #expect(value["c"] == .string("x\"y\\z\n"))
        #expect(value["d"] == [true, false, nil])
        #expect(value["g"]?.doubleValue == 1000)
        #expect(value["h"] == .string("é😀"))
        #expect(try JSONValue(parsing: value.jsonString) == value)
        #expect(value.jsonString.hasPrefix(#"{"a":1,"b":-2.5,"c":"x\"y\\z\n","d":[true,false,null],"e":{},"f":[]"#))
    }

    @Test("keeps object keys in the order written")
    func keyOrder() throws {
        let value = try JSONValue(parsing: #"{"zeta":1,"alpha":2,"mid":3}"#)
        #expect(value.objectValue?.keys == ["zeta", "alpha", "mid"])
    }

    @Test("refuses malformed input with the offset", arguments: [
        "", "{", "[1,]", "{\"a\" 1}", "tru", "01", "1.", "\"\\x\"", "\"a", "{} x", "\"\u{01}\"", "\"\\ud800\"", "-", "1e",
    ])
    func malformed(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: text) }
    }

    @Test("refuses nesting deeper than the limit instead of overflowing the stack")
    func depthLimit() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let error = #expect(throws: JSONParseError.self) { try JSONValue(parsing: deep) }
        #expect(error?.reason.contains("nesting") == true)
        #expect(try JSONValue(parsing: String(repeating: "[", count: 100) + String(repeating: "]", count: 100)) != .null)
    }

    @Test("escapes control characters when writing")
    func escaping() throws {
        let value = JSONValue.string("a\u{0}b\u{1F}c\td")
        #expect(value.jsonString == #""a\u0000b\u001fc\td""#)
        #expect(try JSONValue(parsing: value.jsonString) == value)
    }

    @Test("writes integral doubles as integers and non-finite numbers as null")
    func numbers() {
        #expect(JSONValue.double(3.0).jsonString == "3")
        #expect(JSONValue.double(0.1).jsonString == "0.1")
        #expect(JSONValue.double(.infinity).jsonString == "null")
        #expect(JSONValue.int(Int64.min).jsonString == "-9223372036854775808")
    }
}

@Suite("Encoding Swift values to JSON")
struct JSONValueEncoderTests {
    struct Inner: Encodable {
        let flag: Bool
        let tags: [String]
    }

    struct Outer: Encodable {
        let id: Int64
        let name: String
        let ratio: Double
        let missing: String?
        let inner: Inner
        let nested: [[Int]]
        let lookup: [String: Int]
        let at: Date
        let blob: Data
        let kind: Kind

        enum Kind: String, Encodable { case a, b }
    }

    @Test("keys keep the type's order; scalars, optionals, nesting, dictionaries, dates and data encode as documented")
    func encodes() throws {
        let value = Outer(
            id: 7, name: "x\"y", ratio: 0.25, missing: nil, inner: Inner(flag: true, tags: ["p", "q"]), nested: [[1], []], lookup: ["k": 1],
            at: Date(timeIntervalSince1970: 0), blob: Data([1, 2, 3]), kind: .b)
        let json = try JSONValueEncoder().encode(value)
        #expect(
            json.jsonString
                == #"{"id":7,"name":"x\"y","ratio":0.25,"inner":{"flag":true,"tags":["p","q"]},"nested":[[1],[]],"lookup":{"k":1},"at":"1970-01-01T00:00:00Z","blob":"AQID","kind":"b"}"#
        )
    }

    @Test("a non-finite number is an error, as with JSONEncoder")
    func nonFinite() {
        #expect(throws: EncodingError.self) { try JSONValueEncoder().encode(["x": Double.nan]) }
    }

    @Test("a large dictionary keeps every key once")
    func largeDictionary() throws {
        let dictionary = Dictionary(uniqueKeysWithValues: (0..<1000).map { ("key\($0)", $0) })
        let json = try JSONValueEncoder().encode(dictionary)
        #expect(json.objectValue?.count == 1000)
        #expect(json["key999"] == 999)
    }
}
