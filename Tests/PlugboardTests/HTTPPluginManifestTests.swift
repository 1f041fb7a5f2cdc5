import PlugboardJSON
@testable import PlugboardPlugins
import Testing

@Suite("kind: http manifests and requests")
struct HTTPPluginManifestTests {
    static let valid = """
        plugin: projects_api
        kind: http
        http:
          base_url: http://127.0.0.1:8000/api/
          audience: projects-api
        tools:
          - name: get_project
            description: One project.
            input_schema: { type: object, properties: { id: { type: string }, fields: { type: string } }, required: [id] }
            scopes: [projects:read]
            request:
              path: /projects/{id}/
              query: { fields: "{fields}", format: json }
              headers: { X-Trace: "t-{id}" }
              response: { pointer: /data }
          - name: create_project
            description: Create a project.
            input_schema: { type: object, properties: { name: { type: string }, budget: { type: integer } }, required: [name] }
            request:
              method: post
              path: /projects/
              body: { name: "{name}", budget: "{budget}", tags: [imported] }
        """

    func parse(_ yaml: String) throws(PluginRefusal) -> Manifest {
        try ManifestParser.parse(yaml: yaml, file: "plugins/api/manifest.yaml")
    }

    @Test("reads the http section and each tool's request")
    func validManifest() throws {
        let manifest = try parse(Self.valid)
        #expect(manifest.http == HTTPPluginSettings(baseURL: "http://127.0.0.1:8000/api", audience: "projects-api"))
        #expect(manifest.library == "")
        let get = try #require(manifest.tools.first?.request)
        #expect(manifest.tools[0].handler == "get_project")
        #expect(get.method == "GET")
        #expect(get.path == "/projects/{id}/")
        #expect(get.query == [.init(name: "fields", value: "{fields}"), .init(name: "format", value: "json")])
        #expect(get.responsePointer == "/data")
        let post = try #require(manifest.tools.last?.request)
        #expect(post.method == "POST")
        #expect(post.body == ["name": "{name}", "budget": "{budget}", "tags": ["imported"]])
    }

    @Test("each bad http manifest is refused with its line and a reason naming the fix", arguments: [
        // A path parameter that is not an argument.
        (valid.replacingOccurrences(of: "/projects/{id}/", with: "/projects/{project_id}/"), 12, "{project_id} is not a property of the tool's input_schema"),
        // A path parameter that may be absent would address the collection instead.
        (valid.replacingOccurrences(of: "/projects/{id}/", with: "/projects/{fields}/"), 12, "path parameter {fields} must be listed in the input_schema's 'required'"),
        (valid.replacingOccurrences(of: "http://127.0.0.1:8000/api/", with: "file:///etc/passwd"), 4, "base_url must be an http:// or https:// URL"),
        (valid.replacingOccurrences(of: "http://127.0.0.1:8000/api/", with: "https://user:pw@api.example.com"), 4, "may not carry credentials"),
        (valid.replacingOccurrences(of: "  audience: projects-api", with: "  audiense: projects-api"), 5, "unknown key 'audiense' (did you mean 'audience'?)"),
        (valid.replacingOccurrences(of: "      response: { pointer: /data }", with: "      respone: { pointer: /data }"), 15, "unknown key 'respone' (did you mean 'response'?)"),
        (valid.replacingOccurrences(of: "kind: http", with: "kind: http\nlibrary: libx.so"), 3, "'library' does not apply to kind: http"),
        (valid.replacingOccurrences(of: "kind: http", with: "kind: rest"), 2, "kind must be 'library' (the default) or 'http'"),
        (valid.replacingOccurrences(of: "      method: post", with: "      method: TRACE"), 20, "method must be one of GET, POST, PUT, PATCH, DELETE"),
        (valid.replacingOccurrences(of: "X-Trace", with: "Authorization"), 14, "header 'Authorization' is set by the host"),
        (valid.replacingOccurrences(of: "/projects/{id}/", with: "/projects/../admin/{id}"), 12, "may not contain '.' or '..' segments"),
        (valid.replacingOccurrences(of: "budget: \"{budget}\"", with: "budget: \"{money}\""), 22, "{money} is not a property"),
        (valid.replacingOccurrences(of: "    request:\n      path: /projects/{id}/", with: "    handler: h\n    request:\n      path: /projects/{id}/"), 11, "kind: http tools have a 'request', not a 'handler'"),
    ] as [(String, Int, String)])
    func refusals(yaml: String, line: Int, reason: String) {
        let error = #expect(throws: PluginRefusal.self) { try parse(yaml) }
        #expect(error?.line == line, "\(error?.description ?? "")")
        #expect(error?.reason.contains(reason) == true, "\(error?.description ?? "")")
        #expect(error?.plugin == "projects_api")
    }

    @Test("paginate: GET only, without response, with items and next pointers")
    func paginate() throws {
        let paged = Self.valid.replacingOccurrences(of: "      response: { pointer: /data }", with: "      paginate: { items: /results }")
        #expect(try parse(paged).tools[0].request?.pagination == .init(items: "/results", next: "/next"))
        let both = Self.valid.replacingOccurrences(of: "      response: { pointer: /data }", with: "      response: { pointer: /data }\n      paginate: {}")
        #expect(throws: PluginRefusal.self) { try parse(both) }
        let post = Self.valid.replacingOccurrences(of: "      body:", with: "      paginate: {}\n      body:")
        let error = #expect(throws: PluginRefusal.self) { try parse(post) }
        #expect(error?.reason.contains("only GET requests are paginated") == true)
    }

    @Test("a next link is followed only to the base URL's origin", arguments: [
        ("http://127.0.0.1:8000/api/projects/?page=2", "http://127.0.0.1:8000"),
        ("HTTP://API.example.com/x", "http://api.example.com"),
        ("http://127.0.0.1:8000@evil.example/x", "http://127.0.0.1:8000@evil.example"),
    ])
    func origin(url: String, origin: String) {
        #expect(HTTPPlugin.origin(of: url) == origin)
        #expect(HTTPPlugin.origin(of: url) != "http://127.0.0.1:8000" || origin == "http://127.0.0.1:8000")
    }

    @Test("a library plugin may not have http parts")
    func libraryPluginRefusesRequest() {
        let error = #expect(throws: PluginRefusal.self) {
            try parse("plugin: p\nlibrary: l.so\ntools:\n  - { name: t, handler: h, description: d, request: { path: / } }\n")
        }
        #expect(error?.reason.contains("'request' is only for plugins with kind: http") == true)
    }

    func request(_ manifest: Manifest, _ index: Int) throws -> HTTPRequestTemplate {
        try #require(manifest.tools[index].request)
    }

    @Test("path arguments are percent-encoded as one segment: ../ and / cannot change the path", arguments: [
        ("42", "http://127.0.0.1:8000/api/projects/42/?format=json"),
        ("../admin", "http://127.0.0.1:8000/api/projects/%2E%2E%2Fadmin/?format=json"),
        ("..", "http://127.0.0.1:8000/api/projects/%2E%2E/?format=json"),
        ("a b?c=d#e", "http://127.0.0.1:8000/api/projects/a%20b%3Fc%3Dd%23e/?format=json"),
        ("é", "http://127.0.0.1:8000/api/projects/%C3%A9/?format=json"),
    ])
    func pathEncoding(id: String, url: String) throws {
        let manifest = try parse(Self.valid)
        #expect(try RequestRenderer.url(base: manifest.http?.baseURL ?? "", template: request(manifest, 0), arguments: ["id": .string(id)]) == url)
    }

    @Test("query parameters are encoded, and left out when their argument is absent")
    func query() throws {
        let manifest = try parse(Self.valid)
        let url = try RequestRenderer.url(base: "http://h", template: request(manifest, 0), arguments: ["id": 7, "fields": "name&owner=bob"])
        #expect(url == "http://h/projects/7/?fields=name%26owner%3Dbob&format=json")
        #expect(try RequestRenderer.headers(request(manifest, 0), arguments: ["id": 7]).map { "\($0): \($1)" } == ["X-Trace: t-7"])
    }

    @Test("the body keeps argument types and drops absent arguments")
    func body() throws {
        let manifest = try parse(Self.valid)
        #expect(try RequestRenderer.body(request(manifest, 1), arguments: ["name": "Apollo", "budget": 5]) == ["name": "Apollo", "budget": 5, "tags": ["imported"]])
        #expect(try RequestRenderer.body(request(manifest, 1), arguments: ["name": "Apollo"]) == ["name": "Apollo", "tags": ["imported"]])
    }

    @Test("upstream statuses become errors the model can act on", arguments: [
        (400, #"{"name": ["This field is required."], "budget": ["Ensure this value is greater than or equal to 0."]}"#, nil,
         "refused the request as invalid (HTTP 400, POST /projects/): name: This field is required.; budget: Ensure this value is greater than or equal to 0."),
        (422, #"{"detail": "Unprocessable"}"#, nil, "(HTTP 422, POST /projects/): Unprocessable"),
        (403, #"{"detail": "You do not have permission to perform this action."}"#, nil, "the user may not do this (HTTP 403"),
        (404, #"{"detail": "No Project matches the given query."}"#, nil, "Not found: the upstream API has no such resource for this user (HTTP 404"),
        (409, "", nil, "conflict with the current state (HTTP 409"),
        (429, "", "17", "Retry after 17 seconds."),
        (503, "<html>", nil, "The upstream API failed (HTTP 503"),
    ] as [(Int, String, String?, String)])
    func statuses(status: Int, body: String, retryAfter: String?, message: String) {
        let mapped = UpstreamReply.map(status: status, body: Array(body.utf8), retryAfter: retryAfter, pointer: "", method: "POST", path: "/projects/")
        guard case .toolError(let text) = mapped else {
            Issue.record("HTTP \(status) was not an error: \(mapped)")
            return
        }
        #expect(text.contains(message), "\(text)")
    }

    @Test("a success is the picked JSON as structured content")
    func success() throws {
        let body = Array(#"{"data": {"id": 1, "name": "A"}, "meta": {}}"#.utf8)
        #expect(UpstreamReply.map(status: 200, body: body, retryAfter: nil, pointer: "/data", method: "GET", path: "/") == .result([
            "content": [["type": "text", "text": #"{"id":1,"name":"A"}"#]], "structuredContent": ["id": 1, "name": "A"],
        ]))
        let list = UpstreamReply.map(status: 200, body: Array("[1,2]".utf8), retryAfter: nil, pointer: "", method: "GET", path: "/")
        #expect(list == .result(["content": [["type": "text", "text": #"{"result":[1,2]}"#]], "structuredContent": ["result": [1, 2]]]))
        guard case .toolError = UpstreamReply.map(status: 200, body: body, retryAfter: nil, pointer: "/missing", method: "GET", path: "/") else {
            Issue.record("a missing pointer target should be an error")
            return
        }
    }
}
