import PlugboardJSON

/// The `http:` section of a `kind: http` manifest: where the plugin's requests go and who the
/// bridge token is for.
public struct HTTPPluginSettings: Sendable, Equatable {
    /// `http(s)://host[:port][/prefix]`, without a trailing slash.
    public var baseURL: String
    /// The `aud` of the token minted per call; nil sends no identity (a public upstream).
    public var audience: String?

    public init(baseURL: String, audience: String?) {
        self.baseURL = baseURL
        self.audience = audience
    }
}

/// The `request:` of a tool of a `kind: http` plugin. Strings may hold `{argument}` placeholders.
public struct HTTPRequestTemplate: Sendable {
    public struct Parameter: Sendable, Equatable {
        public var name: String
        public var value: String
    }

    public var method: String
    /// Starts with `/`, appended to the base URL; placeholders fill whole or partial segments.
    public var path: String
    public var query: [Parameter]
    /// A JSON template: a string that is exactly `{argument}` becomes the argument's value (of
    /// any JSON type), and is left out of its object when the argument is absent.
    public var body: JSONValue?
    public var headers: [Parameter]
    /// RFC 6901 pointer into the JSON response; empty for the whole body.
    public var responsePointer: String
    /// Set when the answer is a page of a list: the items are gathered from page after page.
    public var pagination: Pagination?

    /// Where a page keeps its items and the link to the next page (DRF's `results` and `next`).
    public struct Pagination: Sendable, Equatable {
        public var items: String
        public var next: String
    }
}

/// Why a call's arguments cannot make the request: said to the model.
struct RequestRenderFailure: Error, CustomStringConvertible {
    let description: String
}

/// Fills a tool's request template from its (already validated) arguments.
enum RequestRenderer {
    /// `{name}` placeholders in order, or nil when the braces are unbalanced or a name is not an
    /// identifier.
    static func placeholders(in text: String) -> [String]? {
        var names: [String] = []
        var current: String?
        for character in text {
            switch (character, current) {
            case ("{", nil): current = ""
            case ("}", let name?):
                guard isIdentifier(name) else { return nil }
                names.append(name)
                current = nil
            case ("{", _?), ("}", nil): return nil
            case (_, let name?): current = name + String(character)
            case (_, nil): break
            }
        }
        return current == nil ? names : nil
    }

    static func isIdentifier(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, text.unicodeScalars.count <= 64 else { return false }
        let letter: (Unicode.Scalar) -> Bool = { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || $0 == "_" }
        return letter(first) && text.unicodeScalars.allSatisfy { letter($0) || ("0"..."9").contains($0) }
    }

    /// The full URL: base, path with every argument percent-encoded as one segment's worth of
    /// text (so `../` or `/` in an argument can never change which resource is addressed), then
    /// the query parameters whose arguments are present.
    static func url(base: String, template: HTTPRequestTemplate, arguments: JSONObject) throws(RequestRenderFailure) -> String {
        guard let path = try fill(template.path, arguments, encode: { percentEncode($0, keepingDots: false) }) else {
            throw RequestRenderFailure(description: "a path argument is missing: the path is \(template.path)")
        }
        var url = base + path
        var separator = url.contains("?") ? "&" : "?"
        for parameter in template.query {
            guard let value = try fill(parameter.value, arguments, encode: { percentEncode($0, keepingDots: true) }) else { continue }
            url += separator + percentEncode(parameter.name, keepingDots: true) + "=" + value
            separator = "&"
        }
        return url
    }

    /// Header values; a header whose argument is absent is left out.
    static func headers(_ template: HTTPRequestTemplate, arguments: JSONObject) throws(RequestRenderFailure) -> [(String, String)] {
        var result: [(String, String)] = []
        for header in template.headers {
            guard let value = try fill(header.value, arguments, encode: { $0 }) else { continue }
            guard !value.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) else {
                throw RequestRenderFailure(description: "the value for header \(header.name) may not contain line breaks")
            }
            result.append((header.name, value))
        }
        return result
    }

    /// The JSON body, or nil when the tool sends none.
    static func body(_ template: HTTPRequestTemplate, arguments: JSONObject) throws(RequestRenderFailure) -> JSONValue? {
        guard let body = template.body else { return nil }
        return try fillJSON(body, arguments) ?? .null
    }

    private static func fillJSON(_ value: JSONValue, _ arguments: JSONObject) throws(RequestRenderFailure) -> JSONValue? {
        switch value {
        case .string(let text):
            if let names = placeholders(in: text), names.count == 1, text == "{\(names[0])}" { return arguments[names[0]] }
            return try fill(text, arguments, encode: { $0 }).map(JSONValue.string)
        case .array(let elements):
            var result: [JSONValue] = []
            for element in elements { result.append(try fillJSON(element, arguments) ?? .null) }
            return .array(result)
        case .object(let object):
            var result = JSONObject()
            for (key, element) in object.entries {
                if let filled = try fillJSON(element, arguments) { result[key] = filled }
            }
            return .object(result)
        default:
            return value
        }
    }

    /// The text with its placeholders replaced, or nil when an argument it names is absent.
    private static func fill(_ text: String, _ arguments: JSONObject, encode: (String) -> String) throws(RequestRenderFailure) -> String? {
        var result = ""
        var name: String?
        for character in text {
            switch (character, name) {
            case ("{", nil): name = ""
            case ("}", let current?):
                guard let argument = arguments[current], argument != .null else { return nil }
                result += encode(try scalarText(argument, name: current))
                name = nil
            case (_, let current?): name = current + String(character)
            case (_, nil): result.append(character)
            }
        }
        return result
    }

    private static func scalarText(_ value: JSONValue, name: String) throws(RequestRenderFailure) -> String {
        switch value {
        case .string(let text): return text
        case .int(let int): return String(int)
        case .double(let double): return double.rounded() == double && abs(double) < 1e15 ? String(Int64(double)) : String(double)
        case .bool(let bool): return bool ? "true" : "false"
        case .null, .array, .object:
            throw RequestRenderFailure(description: "argument '\(name)' must be a string, number or boolean to go in the URL or a header")
        }
    }

    /// RFC 3986 unreserved characters stay, everything else is `%XX` of its UTF-8 bytes. In a
    /// path segment dots are encoded too, so an argument `..` is a name, never a dot segment a
    /// proxy or framework would resolve.
    static func percentEncode(_ text: String, keepingDots: Bool) -> String {
        var result = ""
        for byte in text.utf8 {
            let unreserved =
                (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte) || byte == 0x2D || byte == 0x5F
                || byte == 0x7E || (keepingDots && byte == 0x2E)
            if unreserved {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = Array("0123456789ABCDEF")
                result += "%" + String(hex[Int(byte >> 4)]) + String(hex[Int(byte & 0x0F)])
            }
        }
        return result
    }
}
