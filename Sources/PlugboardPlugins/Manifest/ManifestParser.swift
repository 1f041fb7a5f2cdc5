import PlugboardContracts
import PlugboardJSON
import Yams

/// Reads and validates one `manifest.yaml`. Everything that can be checked without the library
/// is checked here, so a bad manifest is refused before any code is loaded.
public enum ManifestParser {
    public static func parse(yaml text: String, file: String) throws(PluginRefusal) -> Manifest {
        var pluginName: String?
        do {
            return try read(text, file: file, name: &pluginName)
        } catch {
            throw PluginRefusal(file: error.file, line: error.line, plugin: pluginName, reason: error.reason)
        }
    }

    /// `name` is set as soon as the manifest's name is known, so later refusals can say whose they are.
    private static func read(_ text: String, file: String, name pluginName: inout String?) throws(YAMLProblem) -> Manifest {
        let root = try YAMLNode.document(yaml: text, file: file)
        let keys = try root.mapping(allowed: [
            "plugin", "version", "library", "abi", "description", "isolation", "config", "data", "tools", "resources", "prompts",
            "kind", "http",
        ])

        guard let nameNode = keys["plugin"] else { throw root.error("missing 'plugin' (the plugin's name)") }
        let name = try nameNode.string()
        guard NameRules.isValid(name) else {
            throw nameNode.error("invalid plugin name '\(name)': names must match \(NameRules.pattern)")
        }
        pluginName = name

        let http = try httpSettings(keys, root: root)
        let library: String
        if http != nil {
            library = ""
        } else {
            guard let libraryNode = keys["library"] else {
                throw root.error("missing 'library' (the plugin's shared library, relative to this manifest, e.g. lib\(name).so)")
            }
            library = try libraryNode.string()
            guard !library.isEmpty, !library.contains("\0") else { throw libraryNode.error("'library' must name a file") }
        }

        let abi = try keys["abi"].map { node throws(YAMLProblem) in try node.integer(in: 1...1_000) } ?? 1
        let isolation: Isolation
        if let node = keys["isolation"] {
            guard let value = Isolation(rawValue: try node.string()) else {
                throw node.error("isolation must be 'in_process' or 'process'")
            }
            isolation = value
        } else {
            isolation = .inProcess
        }
        let config = try keys["config"]?.json() ?? .object(JSONObject())
        guard config.objectValue != nil else { throw (keys["config"] ?? root).error("'config' must be a mapping") }

        let tables = try keys["data"].map(parseData) ?? []
        let tools = try keys["tools"].map { node throws(YAMLProblem) in
            try node.sequence().map { tool throws(YAMLProblem) in try parseTool(tool, http: http != nil) }
        } ?? []
        let resources = try keys["resources"].map { node throws(YAMLProblem) in try node.sequence().map(parseResource) } ?? []
        let prompts = try keys["prompts"].map { node throws(YAMLProblem) in try node.sequence().map(parsePrompt) } ?? []
        guard !tools.isEmpty || !resources.isEmpty || !prompts.isEmpty else {
            throw root.error("the manifest declares no tools, resources or prompts")
        }

        try requireUnique(tools.map { ($0.name, $0.line) }, kind: "tool", file: file)
        try requireUnique(prompts.map { ($0.name, $0.line) }, kind: "prompt", file: file)
        try requireUnique(resources.map { (resourceKey($0.address), $0.line) }, kind: "resource", file: file)

        return Manifest(
            file: file,
            plugin: name,
            version: try keys["version"]?.string() ?? "0.0.0",
            library: library,
            abi: abi,
            description: try keys["description"]?.string(),
            isolation: isolation,
            config: config,
            tables: tables,
            tools: tools,
            resources: resources,
            prompts: prompts,
            declaresIsolation: keys["isolation"] != nil,
            http: http
        )
    }

    /// `kind: http`: the `http:` section, and nothing that only a library could serve.
    private static func httpSettings(_ keys: [String: YAMLNode], root: YAMLNode) throws(YAMLProblem) -> HTTPPluginSettings? {
        let kind = try keys["kind"]?.string() ?? "library"
        switch kind {
        case "library":
            if let node = keys["http"] { throw node.error("'http' is only for plugins with kind: http") }
            return nil
        case "http":
            guard let node = keys["http"] else { throw root.error("kind: http needs an 'http' section with base_url (and audience)") }
            for key in ["library", "abi", "isolation", "config", "data", "resources", "prompts"] {
                if let other = keys[key] {
                    throw other.error("'\(key)' does not apply to kind: http (its tools are HTTP requests; the host makes them)")
                }
            }
            return try HTTPManifestReader.settings(node)
        default:
            throw (keys["kind"] ?? root).error("kind must be 'library' (the default) or 'http', got '\(kind)'")
        }
    }

    private static func resourceKey(_ address: ResourceManifest.Address) -> String {
        switch address {
        case .uri(let uri): uri
        case .template(let template): template.source
        }
    }

    private static func requireUnique(_ names: [(String, Int)], kind: String, file: String) throws(YAMLProblem) {
        var seen: [String: Int] = [:]
        for (name, line) in names {
            if let first = seen[name] {
                throw YAMLProblem(file: file, line: line, reason: "duplicate \(kind) '\(name)' (first declared at line \(first))")
            }
            seen[name] = line
        }
    }

    private static func parseData(_ node: YAMLNode) throws(YAMLProblem) -> [TableDeclaration] {
        let keys = try node.mapping(allowed: ["tables"])
        guard let tablesNode = keys["tables"], let mapping = tablesNode.node.mapping else { return [] }
        var tables: [TableDeclaration] = []
        for (key, value) in mapping {
            guard let table = key.scalar?.string, isSQLIdentifier(table) else {
                throw tablesNode.error("table names must be plain SQL identifiers ([A-Za-z_][A-Za-z0-9_]*)")
            }
            guard !table.lowercased().hasPrefix("plugboard_"), !table.lowercased().hasPrefix("sqlite_"), !table.lowercased().hasPrefix("pg_") else {
                throw tablesNode.error("table '\(table)' is reserved: names starting with plugboard_, sqlite_ or pg_ belong to the host and the database")
            }
            let entry = tablesNode.child(table, value)
            let fields = try entry.mapping(allowed: ["owner_column", "shared"])
            let shared = try fields["shared"]?.bool() ?? false
            let ownerColumn = try fields["owner_column"]?.string()
            if let ownerColumn, !isSQLIdentifier(ownerColumn) {
                throw entry.error("owner_column must be a plain SQL identifier")
            }
            guard shared != (ownerColumn != nil) else {
                throw entry.error("declare either owner_column (rows belong to a caller) or shared: true (readable by every caller)")
            }
            tables.append(TableDeclaration(name: table, ownerColumn: ownerColumn, shared: shared))
        }
        return tables
    }

    private static func isSQLIdentifier(_ text: String) -> Bool {
        guard let first = text.utf8.first, text.utf8.count <= 63 else { return false }
        let isLetter: (UInt8) -> Bool = { (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || $0 == 0x5F }
        return isLetter(first) && text.utf8.allSatisfy { isLetter($0) || (0x30...0x39).contains($0) }
    }

    private static func parseTool(_ node: YAMLNode, http: Bool) throws(YAMLProblem) -> ToolManifest {
        let keys = try node.mapping(allowed: [
            "name", "handler", "title", "description", "input_schema", "output_schema", "annotations", "scopes", "writes", "limits",
            "request",
        ])
        let line = node.line ?? 0
        guard let nameNode = keys["name"] else { throw node.error("missing 'name'") }
        let name = try nameNode.string()
        guard NameRules.isValid(name) else {
            throw nameNode.error("invalid tool name '\(name)': names must match \(NameRules.pattern)")
        }
        // An http tool's handler is its own name: the transport finds its request by it.
        if http, let handlerNode = keys["handler"] { throw handlerNode.error("tool '\(name)': kind: http tools have a 'request', not a 'handler'") }
        if !http, let requestNode = keys["request"] { throw requestNode.error("tool '\(name)': 'request' is only for plugins with kind: http") }
        guard let handler = http ? name : try keys["handler"]?.string(), !handler.isEmpty else {
            throw node.error("tool '\(name)' has no 'handler' (the handler name the library implements)")
        }
        guard let description = try keys["description"]?.string(),
            !description.allSatisfy({ $0 == " " || $0 == "\n" || $0 == "\t" })
        else {
            throw node.error("tool '\(name)' has no description; the description is what tells the model when to use the tool")
        }
        let inputSchema = try schema(keys["input_schema"], default: ["type": "object", "additionalProperties": false], tool: name)
        guard inputSchema.document["type"] == .string("object") else {
            throw (keys["input_schema"] ?? node).error("tool '\(name)': input_schema must be a JSON Schema with type: object")
        }
        let outputSchema = try keys["output_schema"].map { node throws(YAMLProblem) in try schema(node, default: nil, tool: name) }
        if let outputSchema, outputSchema.document["type"] != .string("object") {
            throw (keys["output_schema"] ?? node).error("tool '\(name)': output_schema must be a JSON Schema with type: object")
        }
        var annotations: JSONObject?
        if let annotationsNode = keys["annotations"] {
            guard let object = try annotationsNode.json().objectValue else { throw annotationsNode.error("expected a mapping") }
            annotations = object
        }
        let scopes = try ManifestScopes(keys["scopes"])
        var request: HTTPRequestTemplate?
        if http {
            guard let requestNode = keys["request"] else { throw node.error("tool '\(name)' has no 'request' (method, path ...)") }
            request = try HTTPManifestReader.request(requestNode, tool: name, inputSchema: inputSchema)
        }
        return ToolManifest(
            name: name,
            handler: handler,
            title: try keys["title"]?.string(),
            description: description,
            inputSchema: inputSchema,
            outputSchema: outputSchema,
            annotations: annotations,
            scopes: scopes.names,
            writes: try keys["writes"]?.bool() ?? false,
            limits: try keys["limits"].map(parseLimits) ?? .defaults,
            line: line,
            scopeDescriptions: scopes.descriptions,
            request: request
        )
    }

    private static func schema(_ node: YAMLNode?, default fallback: JSONValue?, tool: String) throws(YAMLProblem) -> JSONSchema {
        guard let node else {
            do {
                return try JSONSchema(fallback ?? .object(JSONObject()))
            } catch {
                throw YAMLProblem(file: "", line: nil, reason: "internal: default schema invalid")
            }
        }
        let document = try node.json()
        do {
            return try JSONSchema(document)
        } catch {
            throw node.error("tool '\(tool)': invalid JSON Schema: \(error)")
        }
    }

    private static func parseLimits(_ node: YAMLNode) throws(YAMLProblem) -> ToolLimits {
        let keys = try node.mapping(allowed: ["timeout_ms", "max_result_chars", "max_rows"])
        var limits = ToolLimits.defaults
        if let value = keys["timeout_ms"] { limits.timeoutMilliseconds = try value.integer(in: 1...3_600_000) }
        if let value = keys["max_result_chars"] { limits.maxResultCharacters = try value.integer(in: 100...100_000_000) }
        if let value = keys["max_rows"] { limits.maxRows = try value.integer(in: 1...10_000_000) }
        return limits
    }

    private static func parseResource(_ node: YAMLNode) throws(YAMLProblem) -> ResourceManifest {
        let keys = try node.mapping(allowed: ["uri", "uri_template", "name", "title", "description", "mime_type", "handler", "scopes"])
        let address: ResourceManifest.Address
        switch (keys["uri"], keys["uri_template"]) {
        case (let uriNode?, nil):
            let uri = try uriNode.string()
            guard uri.contains(":"), !uri.contains("{") else { throw uriNode.error("'\(uri)' is not an absolute URI (use uri_template for {variables})") }
            address = .uri(uri)
        case (nil, let templateNode?):
            do {
                address = .template(try URITemplate(try templateNode.string()))
            } catch let error as URITemplateError {
                throw templateNode.error(error.description)
            } catch {
                throw templateNode.error("\(error)")
            }
        default:
            throw node.error("a resource needs exactly one of 'uri' (a fixed resource) or 'uri_template' (e.g. projects://{id})")
        }
        guard let name = try keys["name"]?.string(), !name.isEmpty else { throw node.error("resource has no 'name'") }
        guard let handler = try keys["handler"]?.string(), !handler.isEmpty else {
            throw node.error("resource '\(name)' has no 'handler'")
        }
        let scopes = try ManifestScopes(keys["scopes"])
        return ResourceManifest(
            address: address,
            name: name,
            title: try keys["title"]?.string(),
            description: try keys["description"]?.string(),
            mimeType: try keys["mime_type"]?.string(),
            handler: handler,
            scopes: scopes.names,
            line: node.line ?? 0,
            scopeDescriptions: scopes.descriptions
        )
    }

    private static func parsePrompt(_ node: YAMLNode) throws(YAMLProblem) -> PromptManifest {
        let keys = try node.mapping(allowed: ["name", "title", "description", "arguments", "template", "handler", "scopes"])
        guard let nameNode = keys["name"] else { throw node.error("missing 'name'") }
        let name = try nameNode.string()
        guard NameRules.isValid(name) else {
            throw nameNode.error("invalid prompt name '\(name)': names must match \(NameRules.pattern)")
        }
        var arguments: [PromptArgument] = []
        for argumentNode in try keys["arguments"]?.sequence() ?? [] {
            let fields = try argumentNode.mapping(allowed: ["name", "description", "required", "values"])
            guard let argumentName = try fields["name"]?.string(), NameRules.isValid(argumentName) else {
                throw argumentNode.error("prompt '\(name)': each argument needs a 'name' matching \(NameRules.pattern)")
            }
            arguments.append(
                PromptArgument(
                    name: argumentName,
                    description: try fields["description"]?.string(),
                    required: try fields["required"]?.bool() ?? false,
                    values: try fields["values"]?.strings() ?? []
                ))
        }
        let body: PromptManifest.Body
        switch (keys["template"], keys["handler"]) {
        case (let template?, nil):
            let text = try template.string()
            let declared = Set(arguments.map(\.name))
            for placeholder in PromptTemplate.placeholders(in: text) where !declared.contains(placeholder) {
                throw template.error("prompt '\(name)': the template uses {{\(placeholder)}} but no argument of that name is declared")
            }
            body = .template(text)
        case (nil, let handler?):
            body = .handler(try handler.string())
        default:
            throw node.error("prompt '\(name)' needs exactly one of 'template' (text with {{argument}} placeholders) or 'handler'")
        }
        let scopes = try ManifestScopes(keys["scopes"])
        return PromptManifest(
            name: name,
            title: try keys["title"]?.string(),
            description: try keys["description"]?.string(),
            arguments: arguments,
            body: body,
            scopes: scopes.names,
            line: node.line ?? 0,
            scopeDescriptions: scopes.descriptions
        )
    }
}
