import PlugboardPlugins
import Testing

/// `scopes:` in both forms: plain names, and names with words for people (the consent page).
@Suite("Manifest scopes with descriptions")
struct ManifestScopesTests {
    static func manifest(toolScopes: String, resourceScopes: String = "[notes:read]", promptScopes: String = "[notes:read]") -> String {
        """
        plugin: notes
        library: libnotes.so
        tools:
          - name: add_note
            handler: notes.add
            description: Saves a note.
            scopes: \(toolScopes)
        resources:
          - uri: notes://index
            name: notes-index
            handler: notes.index
            scopes: \(resourceScopes)
        prompts:
          - name: draft
            template: Draft a note.
            scopes: \(promptScopes)
        """
    }

    static func parse(_ yaml: String) throws(PluginRefusal) -> Manifest {
        try ManifestParser.parse(yaml: yaml, file: "plugins/notes/manifest.yaml")
    }

    @Test("a list of names reads as before, with no descriptions")
    func plainNames() throws {
        let manifest = try Self.parse(Self.manifest(toolScopes: "[notes:write, notes:read]"))
        #expect(manifest.tools[0].scopes == ["notes:write", "notes:read"])
        #expect(manifest.tools[0].scopeDescriptions.isEmpty)
        #expect(manifest.resources[0].scopes == ["notes:read"])
    }

    @Test("entries with a description, mixed with plain names, on tools, resources and prompts")
    func described() throws {
        let manifest = try Self.parse(
            Self.manifest(
                toolScopes: "[{ name: notes:write, description: Write your notes }, notes:read]",
                resourceScopes: "\n      - name: notes:read\n        description: Read your notes",
                promptScopes: "[{ name: notes:read, description: Read <your> notes & more }]"))
        #expect(manifest.tools[0].scopes == ["notes:write", "notes:read"])
        #expect(manifest.tools[0].scopeDescriptions == ["notes:write": "Write your notes"])
        #expect(manifest.resources[0].scopes == ["notes:read"])
        #expect(manifest.resources[0].scopeDescriptions == ["notes:read": "Read your notes"])
        #expect(manifest.prompts[0].scopeDescriptions == ["notes:read": "Read <your> notes & more"])
    }

    @Test(
        "refuses malformed entries with the line and what to write",
        arguments: [
            ("[{ description: Write your notes }]", "needs a 'name'"),
            ("[{ name: notes:write, descripton: Write }]", "did you mean 'description'"),
            ("[{ name: notes:write, description: \"  \" }]", "the description is empty"),
            ("[\"notes write\"]", "scopes are single words without spaces"),
            ("[\"\"]", "scopes are single words without spaces"),
            ("notes:write", "expected a list"),
        ])
    func refusals(scopes: String, reason: String) {
        let error = #expect(throws: PluginRefusal.self) { try Self.parse(Self.manifest(toolScopes: scopes)) }
        #expect(error?.line == 7)
        #expect(error?.reason.contains(reason) == true, "\(error?.reason ?? "no error")")
    }
}
