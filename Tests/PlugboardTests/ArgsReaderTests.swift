import CPlugboard
import PlugboardJSON
import PlugboardMCP
import PlugboardPlugins
import Testing

/// `plugboard_args.h`, the header-only argument reader for C plugins, called through the same
/// header the plugins compile. Every document is placed so its last byte touches an unreadable
/// page: a read past the end crashes the test instead of passing unnoticed.
@Suite("C argument reader (plugboard_args.h)")
struct ArgsReaderTests {
    /// Parses `text` from guarded memory and hands the root cursor to `body` while the memory lives.
    func parsed<R>(_ text: String, _ body: (pb_json_status, pb_json) throws -> R) throws -> R {
        let bytes = Array(text.utf8)
        let memory = try #require(GuardedBytes(size: bytes.count))
        bytes.withUnsafeBytes { memory.bytes.copyMemory(from: $0) }
        var root = pb_json()
        let status = pb_json_parse(memory.start.assumingMemoryBound(to: UInt8.self), bytes.count, &root)
        return try withExtendedLifetime(memory) { try body(status, root) }
    }

    /// The string at `path`, or the status that prevented it.
    func string(_ root: pb_json, _ path: String, capacity: Int = 256) -> Result<String, ReaderStatus> {
        var buffer = [CChar](repeating: 0x55, count: capacity)
        var length = 0
        let status = pb_args_string(root, path, &buffer, capacity, &length)
        guard status == PB_JSON_OK else { return .failure(ReaderStatus(status)) }
        return .success(String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    func int64(_ root: pb_json, _ path: String) -> Result<Int64, ReaderStatus> {
        var value: Int64 = 0
        let status = pb_args_int64(root, path, &value)
        return status == PB_JSON_OK ? .success(value) : .failure(ReaderStatus(status))
    }

    func double(_ root: pb_json, _ path: String) -> Result<Double, ReaderStatus> {
        var value = 0.0
        let status = pb_args_double(root, path, &value)
        return status == PB_JSON_OK ? .success(value) : .failure(ReaderStatus(status))
    }

    @Test("escaped text: a name inside a string is not a member, and escapes are undone")
    func escapedText() throws {
        try parsed(#"{"note":"\"text\": \"x\"","text":"real"}"#) { status, root in
            #expect(status == PB_JSON_OK)
            #expect(string(root, "text") == .success("real"))
            #expect(string(root, "note") == .success(#""text": "x""#))
        }
        try parsed(#"{"s":"a\"b\\c\/d\be\ff\ng\rh\ti"}"#) { _, root in
            #expect(string(root, "s") == .success("a\"b\\c/d\u{8}e\u{C}f\ng\rh\ti"))
        }
    }

    @Test("nested objects and arrays, by path and by sub-cursor")
    func nested() throws {
        let document = #"{"meta":{"text":"inner","tags":["a","b",{"deep":[1,2,3]}]},"text":"outer","n":null,"t":true,"f":false}"#
        try parsed(document) { status, root in
            #expect(status == PB_JSON_OK)
            #expect(string(root, "text") == .success("outer"))
            #expect(string(root, "meta.text") == .success("inner"))
            #expect(string(root, "meta.tags[1]") == .success("b"))
            #expect(int64(root, "meta.tags[2].deep[2]") == .success(3))
            #expect(int64(root, "meta.tags[2].deep[3]") == .failure(.missing))
            #expect(string(root, "meta.nope") == .failure(.missing))
            #expect(string(root, "text.inner") == .failure(.wrongType), "a name step into a string")
            #expect(string(root, "meta[0]") == .failure(.wrongType), "an index step into an object")
            for bad in ["meta..text", "meta.", ".meta", "meta[", "meta[x]", "meta[1", "meta[1]x"] {
                #expect(string(root, bad) == .failure(.badPath), "\(bad)")
            }
            var value: Int32 = -1
            #expect(pb_args_bool(root, "t", &value) == PB_JSON_OK && value == 1)
            #expect(pb_args_bool(root, "f", &value) == PB_JSON_OK && value == 0)
            #expect(pb_args_bool(root, "n", &value) == PB_JSON_WRONG_TYPE)
            #expect(pb_args_is_null(root, "n") == 1 && pb_args_is_null(root, "t") == 0 && pb_args_is_null(root, "absent") == 0)
            #expect(pb_args_kind(root, "meta.tags") == PB_JSON_ARRAY && pb_args_kind(root, "absent") == PB_JSON_INVALID)

            // A sub-cursor is a value like any other: members, elements and a walk over them.
            var meta = pb_json()
            #expect(pb_args_value(root, "meta", &meta) == PB_JSON_OK)
            var inner = pb_json()
            #expect(pb_json_member(meta, "text", 4, &inner) == PB_JSON_OK)
            #expect(pb_json_string_equals(inner, "inner", 5) == 1)
            var tags = pb_json()
            #expect(pb_json_member(meta, "tags", 4, &tags) == PB_JSON_OK)
            var walk = pb_json_iter()
            #expect(pb_json_iter_init(tags, &walk) == PB_JSON_OK)
            var kinds: [pb_json_kind] = []
            var element = pb_json()
            while pb_json_iter_next(&walk, nil, &element) == PB_JSON_OK { kinds.append(pb_json_kind_of(element)) }
            #expect(kinds == [PB_JSON_STRING, PB_JSON_STRING, PB_JSON_OBJECT])
            var names: [String] = []
            var key = pb_json()
            #expect(pb_json_iter_init(root, &walk) == PB_JSON_OK)
            while pb_json_iter_next(&walk, &key, nil) == PB_JSON_OK { names.append((try? string(key, "").get()) ?? "?") }
            #expect(names == ["meta", "text", "n", "t", "f"])
        }
    }

    @Test("unicode: \\u escapes and surrogate pairs become UTF-8, raw UTF-8 passes through")
    func unicode() throws {
        try parsed(#"{"caf\u00e9":"caf\u00e9 \ud83d\ude00 \u4E2D","raw":"café 😀 中","lone":"a\ud800b\udc00c","nul":"x\u0000y"}"#) { status, root in
            #expect(status == PB_JSON_OK)
            #expect(string(root, "raw") == .success("café 😀 中"))
            #expect(string(root, "café") == .success("café 😀 中"), "member names are compared unescaped")
            #expect(string(root, "lone") == .success("a\u{FFFD}b\u{FFFD}c"))
            #expect(string(root, "nul") == .success("x\u{0}y"), "the length, not a NUL, ends the string")
            // 😀 is 4 bytes: "café 😀 中" is 5 + 1 + 4 + 1 + 3 = 14.
            var length = 0
            #expect(pb_args_string(root, "raw", nil, 0, &length) == PB_JSON_TOO_SMALL && length == 14)
        }
    }

    @Test("a buffer too small says so and how much is needed, writing nothing past its end")
    func tooSmall() throws {
        try parsed(#"{"text":"hello"}"#) { _, root in
            var buffer = [CChar](repeating: 0x55, count: 8)
            var length = 0
            #expect(pb_args_string(root, "text", &buffer, 5, &length) == PB_JSON_TOO_SMALL)
            #expect(length == 5 && buffer[0] == 0 && buffer[5] == 0x55)
            #expect(pb_args_string(root, "text", &buffer, 6, &length) == PB_JSON_OK)
            #expect(length == 5 && buffer[5] == 0 && buffer[6] == 0x55)
        }
    }

    @Test("numbers: exact int64 range, integral decimals, fractions and overflow")
    func numbers() throws {
        let document = #"{"max":9223372036854775807,"min":-9223372036854775808,"over":9223372036854775808,"neg":-12.5e3,"three":3.0,"k":1e3,"half":1.5,"huge":1e400,"big":1e18,"s":"1","z":-0}"#
        try parsed(document) { status, root in
            #expect(status == PB_JSON_OK)
            #expect(int64(root, "max") == .success(Int64.max))
            #expect(int64(root, "min") == .success(Int64.min))
            #expect(int64(root, "over") == .failure(.outOfRange))
            #expect(int64(root, "neg") == .success(-12500))
            #expect(int64(root, "three") == .success(3) && int64(root, "k") == .success(1000))
            #expect(int64(root, "half") == .failure(.wrongType))
            #expect(int64(root, "big") == .failure(.outOfRange), "past 2^53 a decimal no longer names one integer")
            #expect(int64(root, "s") == .failure(.wrongType) && int64(root, "z") == .success(0))
            #expect(double(root, "neg") == .success(-12500) && double(root, "half") == .success(1.5))
            #expect(double(root, "huge") == .failure(.outOfRange))
            #expect(double(root, "max") == .success(9.223372036854775807e18))
        }
    }

    @Test("malformed documents are refused, and no prefix of a document is read past its end")
    func malformedAndTruncated() throws {
        for bad in [
            "", " ", "{", "}", "[1,]", "{\"a\":1,}", "[1 2]", "{\"a\"}", "{1:2}", "{\"a\":}", "\"\\x\"", "\"\\u12G4\"", "\"a",
            "\"tab\there\"", "01", "-", "1.", "1e", "+1", "tru", "nul", "[]]", "{}x", "\u{0}",
        ] {
            try parsed(bad) { status, _ in #expect(status == PB_JSON_MALFORMED, "\(bad.debugDescription)") }
        }
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        try parsed(deep) { status, _ in #expect(status == PB_JSON_MALFORMED, "nesting past PB_JSON_MAX_DEPTH") }

        let documents = [
            #"{"meta":{"text":"inner","tags":["a",{"deep":[1,2.5e-3,true,null]}]},"text":"caf\u00e9 \ud83d\ude00 \"q\"","n":-12}"#,
            #"["\\",{"":[]},"\/",[[[]]],false]"#,
        ]
        for document in documents {
            let bytes = Array(document.utf8)
            for cut in 0...bytes.count {
                let prefix = String(decoding: bytes.prefix(cut), as: UTF8.self)
                try parsed(prefix) { status, root in
                    #expect((status == PB_JSON_OK) == (cut == bytes.count), "prefix of \(cut) bytes")
                    exerciseEverything(root)
                }
                // Cursors made by hand over every slice ending there, never parsed (a string cut
                // after a backslash, an object cut inside a name...): still no read past the end.
                for start in 0...cut {
                    let memory = try #require(GuardedBytes(size: cut - start))
                    bytes[start..<cut].withUnsafeBytes { memory.bytes.copyMemory(from: $0) }
                    exerciseEverything(pb_json(start: memory.start.assumingMemoryBound(to: UInt8.self), len: cut - start))
                }
            }
        }
    }

    /// Calls every accessor on `value` and, recursively, on whatever it contains.
    func exerciseEverything(_ value: pb_json, depth: Int = 0) {
        var buffer = [CChar](repeating: 0, count: 16)
        var length = 0
        var integer: Int64 = 0
        var real = 0.0
        var flag: Int32 = 0
        _ = pb_json_string(value, &buffer, buffer.count, &length)
        _ = pb_json_int64(value, &integer)
        _ = pb_json_double(value, &real)
        _ = pb_json_bool(value, &flag)
        _ = pb_json_is_null(value)
        _ = pb_json_string_equals(value, "inner", 5)
        var found = pb_json()
        _ = pb_json_path(value, "meta.tags[1].deep[0]", &found)
        _ = pb_json_index(value, 3, &found)
        guard depth < 8 else { return }
        var walk = pb_json_iter()
        guard pb_json_iter_init(value, &walk) == PB_JSON_OK else { return }
        var key = pb_json()
        var element = pb_json()
        while pb_json_iter_next(&walk, &key, &element) == PB_JSON_OK {
            _ = pb_json_string(key, &buffer, 4, &length)
            exerciseEverything(element, depth: depth + 1)
        }
    }
}

/// A reader status with a readable name in test failures.
enum ReaderStatus: Error, Equatable {
    case missing, wrongType, malformed, tooSmall, outOfRange, badPath, other(UInt32)

    init(_ status: pb_json_status) {
        switch status {
        case PB_JSON_MISSING: self = .missing
        case PB_JSON_WRONG_TYPE: self = .wrongType
        case PB_JSON_MALFORMED: self = .malformed
        case PB_JSON_TOO_SMALL: self = .tooSmall
        case PB_JSON_OUT_OF_RANGE: self = .outOfRange
        case PB_JSON_BAD_PATH: self = .badPath
        default: self = .other(status.rawValue)
        }
    }
}

/// The C example plugin reads its arguments with the reader: members of nested objects and text
/// that looks like a member are not mistaken for the argument (the substring search it replaced
/// answered "inner" and 42 here).
@Suite("echo_c reads its arguments with plugboard_args.h", .serialized)
final class EchoCArgumentTests {
    let plugins = PluginFolder()
    let host: PluginHost

    init() async throws {
        // The example's manifest forbids extra arguments; this one lets the tricky ones through.
        plugins.add(
            "echo_c",
            manifest: """
                plugin: echo_c
                version: 1.0.0
                library: libecho_c.so
                tools:
                  - { name: echo, handler: echo.say, description: d, input_schema: { type: object, properties: { text: { type: string } }, required: [text] } }
                  - { name: add_integers, handler: echo.add, description: d, input_schema: { type: object } }
                """)
        host = plugins.host()
        let report = await host.start()
        guard report.refusals.isEmpty else { throw TestFailure("refusals: \(report.refusals)") }
    }

    deinit {
        plugins.remove()
    }

    func call(_ name: String, _ arguments: JSONObject) async throws -> JSONValue {
        try await host.servingCatalog.callTool(
            name, arguments: arguments, context: MCPCallContext(caller: MCPCaller(owner: "alice"), requestID: .int(1), progress: nil, cancellation: CancellationSignal()))
    }

    @Test("echo returns the top-level text, unescaped and escaped again correctly")
    func echoTrickyInput() async throws {
        let text = "real \"quoted\" \\ café 😀 \n\t\u{1}"
        let result = try await call("echo", ["meta": ["text": "inner"], "note": "\"text\": \"x\"", "text": .string(text)])
        #expect(result["isError"] == nil, "\(result)")
        #expect(result["content"]?.arrayValue?.first?["text"]?.stringValue == text, "\(result)")
    }

    @Test("add reads the top-level integers, not a nested member with the same name")
    func addNestedSameName() async throws {
        let result = try await call("add_integers", ["meta": ["a": 40], "a": 1, "b": 2])
        #expect(result["structuredContent"] == ["sum": 3], "\(result)")
        let refused = try await call("add_integers", ["a": 1.5, "b": 2])
        #expect(refused["isError"] == true)
        #expect(refused["content"]?.arrayValue?.first?["text"]?.stringValue?.contains("argument 'a' is of the wrong type") == true, "\(refused)")
    }
}
