import Foundation
import Logging
import PlugboardAuth
import PlugboardData
@testable import PlugboardServer
import Synchronization
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `/metrics` end to end: a real server on loopback with OAuth on, real HTTP requests to `/mcp`,
/// then a real scrape of the metrics listener.
@Suite("metrics", .removesTemporaryFolders)
struct MetricsTests {
    @Test("/metrics on its own listener counts tool calls, outcomes, durations, auth refusals, queries and the generation; the MCP port has no /metrics")
    func scrape() async throws {
        let server = try await RunningServer.start(metrics: true)
        defer { server.stop() }
        let token = try await server.apiToken()

        #expect(try await server.callTool("say", ["text": "hi"], token: token).body.contains(#""text":"hi""#))
        #expect(try await server.callTool("divide", ["dividend": 1, "divisor": 0], token: token).body.contains(#""isError":true"#))
        // A tool that queries: whether the query succeeds is the data layer's business (its own
        // tests); here it must be timed once, and the call counted with the outcome it had.
        let projectsFailed = try await server.callTool("list_projects", [:], token: token).body.contains(#""isError":true"#)
        #expect(try await server.callTool("no_such_tool", [:], token: token).body.contains("Unknown tool"))
        #expect(try await server.callTool("say", ["text": "hi"], token: nil).status == 401)
        #expect(try await server.callTool("say", ["text": "hi"], token: "not-a-token").status == 401)

        let page = try await HTTP.send("GET", "http://127.0.0.1:\(server.metricsPort)/metrics")
        #expect(page.status == 200)
        #expect(page.contentType?.hasPrefix("text/plain; version=0.0.4") == true)
        let series = Self.series(page.body)
        let expected: [String: Double] = [
            #"plugboard_tool_calls_total{tool="say",plugin="demo",outcome="ok"}"#: 1,
            #"plugboard_tool_calls_total{tool="divide",plugin="demo",outcome="tool_error"}"#: 1,
            #"plugboard_tool_calls_total{tool="list_projects",plugin="projects",outcome="\#(projectsFailed ? "internal_error" : "ok")"}"#: 1,
            #"plugboard_tool_call_duration_seconds_count{tool="say",plugin="demo"}"#: 1,
            #"plugboard_tool_call_duration_seconds_count{tool="divide",plugin="demo"}"#: 1,
            #"plugboard_tool_result_bytes_count{tool="say",plugin="demo"}"#: 1,
            #"plugboard_mcp_requests_total{method="tools/call",outcome="ok"}"#: projectsFailed ? 1 : 2,
            #"plugboard_mcp_requests_total{method="tools/call",outcome="tool_error"}"#: projectsFailed ? 2 : 1,
            #"plugboard_mcp_requests_total{method="tools/call",outcome="invalid_params"}"#: 1,
            #"plugboard_mcp_request_duration_seconds_count{method="tools/call"}"#: 4,
            #"plugboard_mcp_requests_in_flight"#: 0,
            #"plugboard_auth_requests_total{outcome="ok"}"#: 4,
            #"plugboard_mcp_http_responses_total{status="200"}"#: 4,
            #"plugboard_mcp_http_responses_total{status="401"}"#: 2,
            #"plugboard_auth_requests_total{outcome="missing_token"}"#: 1,
            #"plugboard_auth_requests_total{outcome="invalid_token"}"#: 1,
            #"plugboard_generation"#: 1,
        ]
        for (name, value) in expected.sorted(by: { $0.key < $1.key }) {
            #expect(series[name] == value, "\(name) in:\n\(page.body)")
        }
        let queries = series.filter { $0.key.hasPrefix(#"plugboard_query_duration_seconds_count{plugin="projects",outcome="#) }
        #expect(queries.values.reduce(0, +) == 1, "one scoped query timed: \(queries)")
        // An unknown tool's name is the client's choice: it must never become a label value.
        #expect(!page.body.contains("no_such_tool"))
        #expect(!page.body.contains("alice"), "no series is labelled by owner")
        // A fast call lands in the first buckets, and every bucket counts it cumulatively.
        #expect(series[#"plugboard_tool_call_duration_seconds_bucket{tool="say",plugin="demo",le="+Inf"}"#] == 1)

        #expect(try await HTTP.send("GET", "http://127.0.0.1:\(server.port)/metrics").status == 404, "the MCP port does not serve /metrics")
    }

    @Test("a reload is counted with its outcome and duration, and the generation follows it")
    func reloads() async throws {
        let server = try await RunningServer.start(metrics: true)
        defer { server.stop() }
        _ = await server.app.reloads.reload(reason: "test")
        let series = Self.series(try await HTTP.send("GET", "http://127.0.0.1:\(server.metricsPort)/metrics").body)
        #expect(series[#"plugboard_reloads_total{outcome="applied"}"#] == 1)
        #expect(series["plugboard_reload_duration_seconds_count"] == 1)
        #expect(series["plugboard_generation"] == 2)
    }

    @Test("a crashed worker's restart and the calls in flight are on the page")
    func restartsAndInFlight() async throws {
        let server = try await RunningServer.start(metrics: true, isolated: true)
        defer { server.stop() }
        let token = try await server.apiToken()
        #expect(try await server.callTool("crash", ["mode": "segfault"], token: token).body.contains("crashed while handling this call"))
        let scrape = { @Sendable in Self.series(try await HTTP.send("GET", "http://127.0.0.1:\(server.metricsPort)/metrics").body) }
        #expect(try await scrape()[#"plugboard_tool_calls_total{tool="crash",plugin="versioned",outcome="unavailable"}"#] == 1)
        // The worker restarts in the background after the failed call has been answered.
        var restarts: Double?
        let deadline = ContinuousClock.now + .seconds(10)
        repeat {
            restarts = try await scrape()[#"plugboard_plugin_worker_restarts{plugin="versioned"}"#]
            if restarts == 1 { break }
            try await Task.sleep(for: .milliseconds(20))
        } while ContinuousClock.now < deadline
        #expect(restarts == 1)

        let slow = Task { try await server.callTool("countdown", ["steps": 40, "delay_ms": 25], token: token) }
        var inFlight: Double?
        let started = ContinuousClock.now
        repeat {
            inFlight = try await scrape()["plugboard_mcp_requests_in_flight"]
            if inFlight == 1 { break }
            try await Task.sleep(for: .milliseconds(10))
        } while ContinuousClock.now < started + .seconds(10)
        #expect(inFlight == 1, "the countdown is being served")
        #expect(try await slow.value.status == 200)
        #expect(try await scrape()["plugboard_mcp_requests_in_flight"] == 0)
    }

    @Test("without metrics_listen nothing listens for metrics and nothing is recorded")
    func off() async throws {
        let server = try await RunningServer.start(metrics: false)
        defer { server.stop() }
        #expect(try await server.callTool("say", ["text": "hi"], token: server.apiToken()).status == 200)
        #expect(try await HTTP.send("GET", "http://127.0.0.1:\(server.metricsPort)/metrics").status == nil, "connection refused")
        #expect(try await HTTP.send("GET", "http://127.0.0.1:\(server.port)/metrics").status == 404)
    }

    /// `name{labels} value` lines of a Prometheus text page, by everything before the value.
    static func series(_ page: String) -> [String: Double] {
        var series: [String: Double] = [:]
        for line in page.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            series[String(line[..<space])] = value
        }
        return series
    }
}

@Suite("config.yaml: metrics and log format", .removesTemporaryFolders)
struct MetricsConfigurationTests {
    func parse(_ yaml: String) throws -> ServerConfiguration {
        try ConfigurationLoader.parse(yaml: "plugins: { state_dir: \(TestSupport.temporaryFolder()) }\n" + yaml, file: "/srv/config.yaml")
    }

    func refusal(_ yaml: String) -> String? {
        do {
            _ = try parse(yaml)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test("metrics_listen is off by default, loopback unless metrics_allow_remote, and not the MCP address")
    func metricsListen() throws {
        #expect(try parse("").server.metricsListen == nil)
        #expect(try parse("server: { metrics_listen: 127.0.0.1:9464 }\n").server.metricsListen == .init(host: "127.0.0.1", port: 9464))
        #expect(try parse("server: { metrics_listen: '[::1]:9464' }\n").server.metricsListen == .init(host: "::1", port: 9464))
        #expect(refusal("server: { metrics_listen: 0.0.0.0:9464 }\n")?.contains("metrics_allow_remote") == true)
        #expect(refusal("server: { metrics_listen: 10.0.0.5:9464, metrics_allow_remote: true }\n") == nil)
        #expect(refusal("server: { listen: 127.0.0.1:8080, metrics_listen: 127.0.0.1:8080 }\n")?.contains("must differ from listen") == true)
        #expect(refusal("server: { metrics_listen: 9464 }\n")?.contains("host:port") == true)
    }

    @Test("logging.format is text by default, json on request, and nothing else")
    func logFormat() throws {
        #expect(try parse("").logFormat == .text)
        #expect(try parse("logging: { format: json }\n").logFormat == .json)
        #expect(refusal("logging: { format: xml }\n")?.contains("text or json") == true)
    }
}

/// A real `PlugboardApp` serving HTTP on loopback ports of its own, with OAuth on, the demo and
/// projects plugins and the demo data.
struct RunningServer {
    let app: PlugboardApp
    let port: Int
    let metricsPort: Int
    let task: Task<Void, any Error>

    /// - Parameter isolated: also serve the `versioned` fixture in a worker process, with a
    ///   `crash` tool (reloads would lose the test's worker executable: don't reload it).
    /// - Parameter auth: the config's `auth:` line (the status page's tests trust a proxy).
    static func start(
        metrics: Bool, isolated: Bool = false, logger: Logger = TestSupport.logger, logging: String = "", auth: String = "auth: { mode: oauth }"
    ) async throws -> RunningServer {
        let folder = PluginFolder()
        folder.addExample("demo")
        folder.addExample("projects")
        if isolated {
            folder.add(
                "versioned",
                manifest: """
                    plugin: versioned
                    library: libfixture_versioned_v1.so
                    isolation: process
                    tools:
                      - name: crash
                        handler: versioned.crash
                        description: Crashes on demand.
                        input_schema: { type: object, properties: { mode: { type: string } }, required: [mode] }
                    """)
        }
        let (port, metricsPort) = (try freePort(), try freePort())
        let yaml = """
            server: { listen: 127.0.0.1:\(port)\(metrics ? ", metrics_listen: 127.0.0.1:\(metricsPort)" : "") }
            \(auth)
            database: { url: 'sqlite:\(folder.root)/plugboard.db', seed: '\(TestSupport.repositoryRoot)/examples/demo/sqlite.sql' }
            plugins: { folder: '\(folder.folder)', library_path: ['\(TestSupport.buildFolder)'], state_dir: '\(folder.root)/state' }
            \(logging)
            """
        // On disk, for reloads to read again.
        try yaml.write(toFile: "\(folder.root)/config.yaml", atomically: true, encoding: .utf8)
        var configuration = try ConfigurationLoader.load(path: "\(folder.root)/config.yaml")
        // Workers are the `plugboard` executable, not this test runner.
        configuration.plugins.workerExecutable = "\(TestSupport.buildFolder)/plugboard"
        let app = try PlugboardApp(configuration: configuration, logger: logger)
        let task = Task { try await app.runHTTP() }
        let server = RunningServer(app: app, port: port, metricsPort: metricsPort, task: task)
        let deadline = ContinuousClock.now + .seconds(30)
        while try await HTTP.send("GET", "http://127.0.0.1:\(port)/readyz").status != 200 {
            guard ContinuousClock.now < deadline else {
                server.stop()
                throw TestFailure("the server on port \(port) did not become ready")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return server
    }

    func stop() {
        task.cancel()
    }

    /// A static API token for alice with every scope (the server has migrated the store by now).
    func apiToken(scopes: [String] = [AuthStore.everyScope], user: String = "alice") async throws -> String {
        let auth = app.store.auth
        _ = try await auth.addUser(user, passwordHash: "unused", at: 1)
        let server = AuthorizationServer(store: auth, settings: AuthSettings(), verifier: TokenVerifier(store: auth), logger: TestSupport.logger)
        return try await server.createAPIToken(owner: user, scopes: scopes, name: nil).token
    }

    func callTool(_ name: String, _ arguments: [String: Any], token: String?) async throws -> (status: Int?, body: String) {
        let body: [String: Any] = ["jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": ["name": name, "arguments": arguments]]
        var headers = ["Content-Type": "application/json", "Accept": "application/json, text/event-stream"]
        if let token { headers["Authorization"] = "Bearer \(token)" }
        let answer = try await HTTP.send(
            "POST", "http://127.0.0.1:\(port)/mcp", headers: headers, body: try JSONSerialization.data(withJSONObject: body))
        return (answer.status, answer.body)
    }
}

/// Plain HTTP/1.1 requests to the server under test.
enum HTTP {
    /// The status is nil when nothing answers (connection refused).
    static func send(
        _ method: String, _ url: String, headers: [String: String] = [:], body: Data? = nil
    ) async throws -> (status: Int?, contentType: String?, body: String) {
        guard let address = URL(string: url) else { throw TestFailure("bad URL \(url)") }
        var request = URLRequest(url: address)
        request.httpMethod = method
        request.httpBody = body
        request.timeoutInterval = 10
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        do {
            let (data, response) = try await URLSession.shared.data(for: request)
            let http = response as? HTTPURLResponse
            return (http?.statusCode, http?.value(forHTTPHeaderField: "Content-Type"), String(decoding: data, as: UTF8.self))
        } catch let error as URLError where error.code == .cannotConnectToHost || error.code == .networkConnectionLost {
            return (nil, nil, "")
        }
    }
}

/// A loopback port nothing listens on right now (the kernel's choice for port 0).
func freePort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw TestFailure("socket: \(errno)") }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    guard bound == 0 else { throw TestFailure("bind: \(errno)") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) } }
    guard named == 0 else { throw TestFailure("getsockname: \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}
