import PlugboardContracts
import PlugboardJSON
import PlugboardPlugins
import Testing

@Suite("Manifest validation")
struct ManifestParserTests {
    static let valid = """
        plugin: sample
        version: 1.2.0
        library: libsample.so
        abi: 1
        config: { greeting: hello }
        data:
          tables:
            projects: { owner_column: owner_id }
            currencies: { shared: true }
        tools:
          - name: list_projects
            handler: projects.list
            title: List projects
            description: Returns the caller's projects.
            input_schema: { type: object, properties: { customer_id: { type: integer } } }
            output_schema: { type: object, properties: { count: { type: integer } } }
            annotations: { readOnlyHint: true }
            scopes: [projects:read]
            limits: { max_rows: 200, max_result_chars: 60000, timeout_ms: 10000 }
        resources:
          - uri_template: "projects://{id}"
            name: project
            handler: projects.read
            mime_type: application/json
        prompts:
          - name: weekly_report
            description: A weekly report
            arguments: [{ name: customer_id, required: false, values: [a, b] }]
            template: "Summarise the week for {{customer_id}}"
        """

    func parse(_ yaml: String) throws(PluginRefusal) -> Manifest {
        try ManifestParser.parse(yaml: yaml, file: "plugins/sample/manifest.yaml")
    }

    @Test("reads every section of a valid manifest")
    func validManifest() throws {
        let manifest = try parse(Self.valid)
        #expect(manifest.plugin == "sample")
        #expect(manifest.version == "1.2.0")
        #expect(manifest.config == ["greeting": "hello"])
        #expect(manifest.tables == [
            TableDeclaration(name: "projects", ownerColumn: "owner_id", shared: false),
            TableDeclaration(name: "currencies", ownerColumn: nil, shared: true),
        ])
        let tool = try #require(manifest.tools.first)
        #expect(tool.name == "list_projects")
        #expect(tool.handler == "projects.list")
        #expect(tool.scopes == ["projects:read"])
        #expect(tool.limits == ToolLimits(timeoutMilliseconds: 10_000, maxResultCharacters: 60_000, maxRows: 200))
        #expect(tool.line == 11)
        #expect(manifest.resources.first?.address == .template(try URITemplate("projects://{id}")))
        #expect(manifest.prompts.first?.body == .template("Summarise the week for {{customer_id}}"))
        #expect(manifest.prompts.first?.arguments.first?.values == ["a", "b"])
    }

    @Test("a tool without input_schema takes no arguments")
    func defaultInputSchema() throws {
        let manifest = try parse("plugin: p\nlibrary: l.so\ntools:\n  - { name: t, handler: h, description: d }\n")
        #expect(manifest.tools[0].inputSchema.document == ["type": "object", "additionalProperties": false])
    }

    @Test("bad YAML is refused with its line")
    func badYAML() {
        let error = #expect(throws: PluginRefusal.self) { try parse("plugin: p\nlibrary: l.so\ntools:\n  - name: [unclosed\n    handler: h\n") }
        #expect(error?.line == 5 || error?.line == 4)
        #expect(error?.reason.hasPrefix("invalid YAML") == true)
        #expect(error?.description.hasPrefix("plugins/sample/manifest.yaml:") == true)
    }

    @Test("each invalid manifest is refused with file, line, plugin and reason", arguments: [
        ("library: l.so\ntools: []\n", 1 as Int?, "missing 'plugin'"),
        ("plugin: 'bad name'\nlibrary: l.so\n", 1, "invalid plugin name 'bad name'"),
        ("plugin: p\ntools: []\n", 1, "missing 'library'"),
        ("plugin: p\nlibrary: l.so\n", 1, "declares no tools, resources or prompts"),
        ("plugin: p\nlibrary: l.so\ntools:\n  - { name: 'has space', handler: h, description: d }\n", 4, "invalid tool name 'has space'"),
        ("plugin: p\nlibrary: l.so\ntools:\n  - { name: \(String(repeating: "x", count: 65)), handler: h, description: d }\n", 4, "invalid tool name"),
        ("plugin: p\nlibrary: l.so\ntools:\n  - { name: t, handler: h }\n", 4, "tool 't' has no description"),
        ("plugin: p\nlibrary: l.so\ntools:\n  - { name: t, handler: h, description: '  ' }\n", 4, "tool 't' has no description"),
        ("plugin: p\nlibrary: l.so\ntools:\n  - { name: t, description: d }\n", 4, "tool 't' has no 'handler'"),
        ("plugin: p\nlibrary: l.so\ntools:\n  - name: t\n    handler: h\n    description: d\n    input_schema: { type: object, properties: { a: { type: strng } } }\n", 7, "invalid JSON Schema: properties.a.type: unknown type 'strng'"),
        ("plugin: p\nlibrary: l.so\ntools:\n  - { name: t, handler: h, description: d, input_schema: { type: array } }\n", 4, "input_schema must be a JSON Schema with type: object"),
        ("plugin: p\nlibrary: l.so\ntools:\n  - name: t\n    handler: h\n    description: d\n    input_schema: { type: object, patternProperties: { '^x': {} } }\n", 7, "patternProperties: the keyword 'patternProperties' is not supported"),
        ("plugin: p\nlibrary: l.so\ntools:\n  - { name: t, handler: h, description: d, descripton: x }\n", 4, "unknown key 'descripton' (did you mean 'description'?)"),
        ("plugin: p\nlibrary: l.so\ntools:\n  - { name: t, handler: h, description: d }\n  - { name: t, handler: h2, description: d }\n", 5, "duplicate tool 't' (first declared at line 4)"),
        ("plugin: p\nlibrary: l.so\ntools:\n  - { name: t, handler: h, description: d, limits: { timeout_ms: 0 } }\n", 4, "must be between 1 and 3600000"),
        ("plugin: p\nlibrary: l.so\nresources:\n  - { uri_template: 'x://{a}{b}', name: r, handler: h }\n", 4, "two variables need literal text between them"),
        ("plugin: p\nlibrary: l.so\nprompts:\n  - { name: pr, template: 'Hello {{who}}' }\n", 4, "uses {{who}} but no argument of that name"),
        ("plugin: p\nlibrary: l.so\ndata:\n  tables:\n    t: { owner_column: o, shared: true }\n", 5, "declare either owner_column"),
        ("plugin: p\nlibrary: l.so\nisolation: sandbox\ntools: []\n", 3, "isolation must be 'in_process' or 'process'"),
    ])
    func refusals(yaml: String, line: Int?, reason: String) {
        let error = #expect(throws: PluginRefusal.self) { try parse(yaml) }
        #expect(error?.reason.contains(reason) == true, "got \(String(describing: error))")
        #expect(error?.line == line, "got line \(String(describing: error?.line))")
        #expect(error?.file == "plugins/sample/manifest.yaml")
        if yaml.hasPrefix("plugin: p\n") {
            #expect(error?.plugin == "p")
        }
    }

    @Test("URI templates match and extract their variables")
    func uriTemplates() throws {
        let template = try URITemplate("projects://{id}/files/{+path}")
        #expect(template.match("projects://42/files/a/b.txt") == ["id": "42", "path": "a/b.txt"])
        #expect(template.match("projects://4%202/files/x") == ["id": "4 2", "path": "x"])
        #expect(template.match("projects://42/other/x") == nil)
        #expect(template.match("projects://a/b/files/x") == nil)
        #expect(throws: URITemplateError.self) { try URITemplate("no-variables://x") }
        #expect(throws: URITemplateError.self) { try URITemplate("{id}") }
    }
}
