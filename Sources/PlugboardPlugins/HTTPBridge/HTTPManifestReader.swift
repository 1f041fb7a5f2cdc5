import Foundation
import PlugboardJSON

/// Reads the parts of a `kind: http` manifest: the plugin's `http:` section and each tool's
/// `request:`. Everything a request could get wrong at call time because of the manifest is
/// refused here, with the line.
enum HTTPManifestReader {
    static let methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]

    static func settings(_ node: YAMLNode) throws(YAMLProblem) -> HTTPPluginSettings {
        let keys = try node.mapping(allowed: ["base_url", "audience"])
        guard let urlNode = keys["base_url"] else { throw node.error("missing 'base_url' (e.g. https://api.example.com/v1)") }
        let text = try urlNode.string()
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else {
            throw urlNode.error("base_url must be an http:// or https:// URL with a host, got '\(text)'")
        }
        guard components.user == nil, components.password == nil, components.query == nil, components.fragment == nil else {
            throw urlNode.error("base_url may not carry credentials, a query or a fragment; the host sends the caller's identity itself")
        }
        var baseURL = text
        while baseURL.hasSuffix("/") { baseURL.removeLast() }
        var audience: String?
        if let audienceNode = keys["audience"] {
            let value = try audienceNode.string()
            guard !value.isEmpty else { throw audienceNode.error("audience must not be empty") }
            audience = value
        }
        return HTTPPluginSettings(baseURL: baseURL, audience: audience)
    }

    /// A tool's `request:`; every placeholder must name a property of the input schema, and a
    /// path placeholder a required one (an absent path argument would address another resource).
    static func request(_ node: YAMLNode, tool: String, inputSchema: JSONSchema) throws(YAMLProblem) -> HTTPRequestTemplate {
        let keys = try node.mapping(allowed: ["method", "path", "query", "body", "headers", "response", "paginate"])
        let properties = Set(inputSchema.document["properties"]?.objectValue?.keys ?? [])
        let required = Set((inputSchema.document["required"]?.arrayValue ?? []).compactMap(\.stringValue))
        func check(_ text: String, at node: YAMLNode, requiring: Bool) throws(YAMLProblem) {
            guard let names = RequestRenderer.placeholders(in: text) else {
                throw node.error("tool '\(tool)': '\(text)' has unbalanced braces or a placeholder that is not a plain name ({argument})")
            }
            for name in names {
                guard properties.contains(name) else {
                    throw node.error("tool '\(tool)': {\(name)} is not a property of the tool's input_schema")
                }
                if requiring, !required.contains(name) {
                    throw node.error("tool '\(tool)': path parameter {\(name)} must be listed in the input_schema's 'required'")
                }
            }
        }

        let method = try keys["method"]?.string().uppercased() ?? "GET"
        guard methods.contains(method) else {
            throw (keys["method"] ?? node).error("tool '\(tool)': method must be one of \(methods.joined(separator: ", ")), got '\(method)'")
        }
        guard let pathNode = keys["path"] else { throw node.error("tool '\(tool)': missing 'path' (e.g. /projects/{id}/)") }
        let path = try pathNode.string()
        guard path.hasPrefix("/") else { throw pathNode.error("tool '\(tool)': path must start with '/'") }
        let literal = path.split(separator: "/", omittingEmptySubsequences: false)
        guard !literal.contains(where: { $0 == "." || $0 == ".." }),
            !path.contains(where: { $0 == "?" || $0 == "#" || $0 == " " || $0 == "%" || $0 == "\\" })
        else {
            throw pathNode.error("tool '\(tool)': path may not contain '.' or '..' segments, '?', '#', '%', '\\' or spaces; put query parameters under 'query'")
        }
        try check(path, at: pathNode, requiring: true)

        var query: [HTTPRequestTemplate.Parameter] = []
        if let queryNode = keys["query"] {
            for (name, valueNode) in try pairs(queryNode) {
                let value = try scalarString(valueNode)
                try check(value, at: valueNode, requiring: false)
                query.append(.init(name: name, value: value))
            }
        }
        var headers: [HTTPRequestTemplate.Parameter] = []
        if let headersNode = keys["headers"] {
            for (name, valueNode) in try pairs(headersNode) {
                guard !name.isEmpty, name.utf8.allSatisfy({ (0x21...0x7E).contains($0) && $0 != 0x3A }) else {
                    throw valueNode.error("tool '\(tool)': '\(name)' is not a valid header name")
                }
                let lowered = name.lowercased()
                guard !["authorization", "host", "content-length", "transfer-encoding", "connection", "cookie"].contains(lowered) else {
                    throw valueNode.error("tool '\(tool)': header '\(name)' is set by the host and may not be set in the manifest")
                }
                let value = try scalarString(valueNode)
                try check(value, at: valueNode, requiring: false)
                headers.append(.init(name: name, value: value))
            }
        }
        var body: JSONValue?
        if let bodyNode = keys["body"] {
            guard method != "GET", method != "DELETE" else { throw bodyNode.error("tool '\(tool)': a \(method) request sends no body") }
            let value = try bodyNode.json()
            for text in strings(in: value) { try check(text, at: bodyNode, requiring: false) }
            body = value
        }
        var pointer = ""
        if let responseNode = keys["response"] {
            let fields = try responseNode.mapping(allowed: ["pointer"])
            if let pointerNode = fields["pointer"] {
                pointer = try pointerNode.string()
                guard pointer.isEmpty || pointer.hasPrefix("/") else {
                    throw pointerNode.error("tool '\(tool)': pointer must be a JSON Pointer (RFC 6901) such as /results, or empty for the whole body")
                }
            }
        }
        var pagination: HTTPRequestTemplate.Pagination?
        if let paginateNode = keys["paginate"] {
            guard method == "GET" else { throw paginateNode.error("tool '\(tool)': only GET requests are paginated") }
            guard keys["response"] == nil else {
                throw paginateNode.error("tool '\(tool)': 'paginate' picks the items itself (its 'items' pointer); remove 'response'")
            }
            let fields = try paginateNode.mapping(allowed: ["items", "next"])
            let items = try fields["items"]?.string() ?? "/results"
            let next = try fields["next"]?.string() ?? "/next"
            for (value, at) in [(items, fields["items"]), (next, fields["next"])] where !value.hasPrefix("/") {
                throw (at ?? paginateNode).error("tool '\(tool)': '\(value)' is not a JSON Pointer such as /results")
            }
            pagination = .init(items: items, next: next)
        }
        return HTTPRequestTemplate(
            method: method, path: path, query: query, body: body, headers: headers, responsePointer: pointer, pagination: pagination)
    }

    private static func pairs(_ node: YAMLNode) throws(YAMLProblem) -> [(String, YAMLNode)] {
        guard let mapping = node.node.mapping else { throw node.error("expected a mapping (name: value)") }
        var result: [(String, YAMLNode)] = []
        for (key, value) in mapping {
            guard let name = key.scalar?.string else { throw node.error("keys must be plain strings") }
            result.append((name, node.child(name, value)))
        }
        return result
    }

    /// A scalar as text: `limit: 10` is as good as `limit: "10"` in a query.
    private static func scalarString(_ node: YAMLNode) throws(YAMLProblem) -> String {
        guard let scalar = node.node.scalar, node.tagName != .null else { throw node.error("expected a string or number") }
        return scalar.string
    }

    private static func strings(in value: JSONValue) -> [String] {
        switch value {
        case .string(let text): [text]
        case .array(let elements): elements.flatMap(strings)
        case .object(let object): object.entries.flatMap { strings(in: $0.value) }
        default: []
        }
    }
}
