import PlugboardJSON

/// A tool as clients see it (after overlays), with the plugin that serves it.
struct CatalogTool: Sendable {
    let name: String
    let description: String
    let manifest: ToolManifest
    let plugin: String
    let transport: any PluginTransport
    /// The MCP `Tool` object, built once per catalog.
    let listing: JSONValue

    init(name: String, description: String, manifest: ToolManifest, plugin: String, transport: any PluginTransport) {
        self.name = name
        self.description = description
        self.manifest = manifest
        self.plugin = plugin
        self.transport = transport
        var object: JSONObject = ["name": .string(name)]
        if let title = manifest.title { object["title"] = .string(title) }
        object["description"] = .string(description)
        object["inputSchema"] = manifest.inputSchema.document
        if let output = manifest.outputSchema { object["outputSchema"] = output.document }
        if let annotations = manifest.annotations { object["annotations"] = .object(annotations) }
        self.listing = .object(object)
    }
}

/// The old name of a renamed tool: it calls `tool` until `until`.
struct ToolAlias: Sendable {
    let tool: CatalogTool
    let until: ContinuousClock.Instant
}

/// A fixed resource or a resource template, with the plugin that serves it.
struct CatalogResource: Sendable {
    let manifest: ResourceManifest
    let plugin: String
    let transport: any PluginTransport
    let listing: JSONValue

    init(manifest: ResourceManifest, plugin: String, transport: any PluginTransport) {
        self.manifest = manifest
        self.plugin = plugin
        self.transport = transport
        var object = JSONObject()
        switch manifest.address {
        case .uri(let uri): object["uri"] = .string(uri)
        case .template(let template): object["uriTemplate"] = .string(template.source)
        }
        object["name"] = .string(manifest.name)
        if let title = manifest.title { object["title"] = .string(title) }
        if let description = manifest.description { object["description"] = .string(description) }
        if let mimeType = manifest.mimeType { object["mimeType"] = .string(mimeType) }
        self.listing = .object(object)
    }

    /// A fixed URI, as opposed to a template.
    var isFixed: Bool {
        if case .uri = manifest.address { true } else { false }
    }

    /// The template variables if this entry serves `uri`, else nil.
    func match(_ uri: String) -> [String: String]? {
        switch manifest.address {
        case .uri(let fixed): fixed == uri ? [:] : nil
        case .template(let template): template.match(uri)
        }
    }
}

/// A prompt, with the plugin that serves it.
struct CatalogPrompt: Sendable {
    let manifest: PromptManifest
    let plugin: String
    let transport: any PluginTransport
    let listing: JSONValue

    init(manifest: PromptManifest, plugin: String, transport: any PluginTransport) {
        self.manifest = manifest
        self.plugin = plugin
        self.transport = transport
        var object: JSONObject = ["name": .string(manifest.name)]
        if let title = manifest.title { object["title"] = .string(title) }
        if let description = manifest.description { object["description"] = .string(description) }
        object["arguments"] = .array(
            manifest.arguments.map { argument in
                var entry: JSONObject = ["name": .string(argument.name)]
                if let description = argument.description { entry["description"] = .string(description) }
                entry["required"] = .bool(argument.required)
                return .object(entry)
            })
        self.listing = .object(object)
    }
}
