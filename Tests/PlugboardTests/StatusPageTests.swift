import Foundation
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
import PlugboardAuth
import PlugboardContracts
@testable import PlugboardData
import PlugboardJSON
@testable import PlugboardPlugins
@testable import PlugboardServer
import Synchronization
import Testing

/// The status page's parts: the per-tool recorder (percentiles, rate, rotation of minutes), who
/// may open `/status`, the page's escaping, and `plugboard status`'s table.
@Suite("status page")
struct StatusPageTests {
    /// A clock the test moves by hand, in minutes since the epoch.
    final class Minutes: Sendable {
        let now = Mutex<Int64>(29_000_000)
        func advance(_ minutes: Int64) { now.withLock { $0 += minutes } }
    }

    @Test("p50 and p99 come from the histogram, the rate is calls per minute of the window")
    func percentiles() throws {
        let clock = Minutes()
        let recorder = ToolActivityRecorder(minutes: 15, minuteNow: { clock.now.withLock { $0 } })
        for _ in 0..<98 { recorder.record(tool: "say", duration: .milliseconds(1), failed: false) }
        for _ in 0..<2 { recorder.record(tool: "say", duration: .seconds(1), failed: true) }
        let say = try #require(recorder.snapshot().tools.first)
        #expect(say.tool == "say" && say.calls == 100 && say.errors == 2)
        let p50 = try #require(say.p50)
        let p99 = try #require(say.p99)
        // Bins are √2 apart: the reported bound is at most √2 above the true value.
        #expect(p50 >= .milliseconds(1) && p50 < .microseconds(1415), "p50 \(p50)")
        #expect(p99 >= .seconds(1) && p99 < .milliseconds(1415), "p99 \(p99)")
        #expect(abs(say.rate - 100.0 / 15) < 1e-9)
        #expect(say.minutes.count == 15 && say.minutes.last?.calls == 100)
    }

    @Test("minutes rotate: a new minute starts empty, and calls older than the window are gone")
    func rotation() throws {
        let clock = Minutes()
        let recorder = ToolActivityRecorder(minutes: 15, minuteNow: { clock.now.withLock { $0 } })
        for _ in 0..<3 { recorder.record(tool: "say", duration: .milliseconds(2), failed: false) }
        clock.advance(1)
        recorder.record(tool: "say", duration: .milliseconds(500), failed: false)
        var say = try #require(recorder.snapshot().tools.first)
        #expect(say.minutes.suffix(2).map(\.calls) == [3, 1])
        #expect(say.minutes.last?.p50 ?? .zero >= .milliseconds(500), "the new minute holds only its own call")
        // 15 minutes after the first call its slot is reused: the old counts must not leak in.
        clock.advance(14)
        recorder.record(tool: "say", duration: .milliseconds(2), failed: false)
        say = try #require(recorder.snapshot().tools.first)
        #expect(say.calls == 2, "\(say.minutes.map(\.calls))")
        #expect(say.minutes.first?.calls == 1 && say.minutes.last?.calls == 1)
        clock.advance(15)
        #expect(recorder.snapshot().tools.isEmpty, "a tool without calls in the window is not shown")
    }

    @Test("at most maxTools tools are tracked; further calls are only counted")
    func capped() {
        let recorder = ToolActivityRecorder(minutes: 15, maxTools: 2, minuteNow: { 1 })
        for name in ["a", "b", "c", "d"] { recorder.record(tool: name, duration: .milliseconds(1), failed: false) }
        recorder.record(tool: "a", duration: .milliseconds(1), failed: false)
        let snapshot = recorder.snapshot()
        #expect(snapshot.tools.map(\.tool) == ["a", "b"])
        #expect(snapshot.untrackedCalls == 2)
    }

    // MARK: Access

    /// Accepts `admin-token` (with plugboard:admin) and `mcp-token` (without it).
    struct Tokens: BearerVerifier {
        func verify(_ token: String, resource: String) async throws -> BearerOutcome {
            let record = { (scopes: [String], unrestricted: Bool) in
                AccessRecord(
                    grantID: "g", owner: "alice", clientID: "c", scopes: scopes, resource: resource, expiresAt: nil, active: true, unrestricted: unrestricted)
            }
            switch token {
            case "admin-token": return .valid(record(["mcp", ScopePolicy.admin], false))
            case "mcp-token": return .valid(record(["mcp"], false))
            case "every-tool-token": return .valid(record([AuthStore.everyScope], true))
            default: return .invalid("unknown token")
            }
        }
    }

    @Test("loopback clients are allowed; others need a token with plugboard:admin (401 without, 403 lacking it)")
    func access() async {
        let access = StatusAccess(verifier: Tokens(), logger: TestSupport.logger)
        let resource = "http://mcp.example.com/mcp"
        #expect(await access.decide(client: "127.0.0.1", authorization: nil, resource: resource) == .allowed)
        #expect(await access.decide(client: "::1", authorization: nil, resource: resource) == .allowed)
        #expect(await access.decide(client: "203.0.113.9", authorization: nil, resource: resource) == .unauthenticated)
        #expect(await access.decide(client: "203.0.113.9", authorization: "Bearer nonsense", resource: resource) == .unauthenticated)
        #expect(await access.decide(client: "203.0.113.9", authorization: "Bearer mcp-token", resource: resource) == .forbidden)
        #expect(await access.decide(client: "203.0.113.9", authorization: "Bearer every-tool-token", resource: resource) == .forbidden)
        #expect(await access.decide(client: "203.0.113.9", authorization: "Bearer admin-token", resource: resource) == .allowed)
        #expect(await access.decide(client: "127.evil", authorization: nil, resource: resource) == .unauthenticated)
        let local = StatusAccess(verifier: nil, logger: TestSupport.logger)
        #expect(await local.decide(client: "192.0.2.1", authorization: "Bearer admin-token", resource: resource) == .forbidden)
    }

    @Test("the sign-in flow never offers or grants plugboard:admin, even when a manifest declares it")
    func adminNotGranted() {
        let policy = ScopePolicy(toolScopes: ["notes:read", ScopePolicy.admin])
        #expect(!policy.supported.contains(ScopePolicy.admin))
        #expect(!policy.grant("mcp \(ScopePolicy.admin)").contains(ScopePolicy.admin))
    }

    @Test("/status over real HTTP: allowed from loopback with a strict CSP; a forwarded non-loopback client needs the admin scope")
    func overHTTP() async throws {
        let server = try await RunningServer.start(metrics: false, auth: "auth: { mode: oauth, trusted_proxies: [127.0.0.1] }")
        defer { server.stop() }
        let token = try await server.apiToken()
        #expect(try await server.callTool("say", ["text": "hi"], token: token).body.contains(#""text":"hi""#))
        let url = "http://127.0.0.1:\(server.port)/status"
        let local = try await HTTP.send("GET", url)
        #expect(local.status == 200)
        #expect(local.contentType == "text/html; charset=utf-8")
        #expect(local.body.contains(#"<tr class="tool" data-tool="say">"#), "the call is charted: \(local.body)")
        let csp = try await Self.header("Content-Security-Policy", of: url)
        #expect(csp?.contains("default-src 'none'") == true && csp?.contains("script-src") != true)

        let remote = ["X-Forwarded-For": "203.0.113.9"]
        #expect(try await HTTP.send("GET", url, headers: remote).status == 401)
        #expect(try await HTTP.send("GET", url, headers: remote.merging(["Authorization": "Bearer \(token)"]) { $1 }).status == 403)
        let admin = try await server.apiToken(scopes: [ScopePolicy.admin], user: "root")
        #expect(try await HTTP.send("GET", url, headers: remote.merging(["Authorization": "Bearer \(admin)"]) { $1 }).status == 200)
    }

    static func header(_ name: String, of url: String) async throws -> String? {
        let address = try #require(URL(string: url))
        let (_, response) = try await URLSession.shared.data(from: address)
        return (response as? HTTPURLResponse)?.value(forHTTPHeaderField: name)
    }

    // MARK: Rendering

    @Test("everything a manifest, a reload or a caller wrote is escaped on the page")
    func escaping() {
        let plugin = PluginSummary(
            name: "<b>p</b>", version: "1\"", libraryVersion: "1\"", manifest: "/m", digest: "abc", isolation: .inProcess, tools: ["<script>"],
            resources: 0, prompts: [], refusedCandidate: "bad & <i>")
        let event = AuditEvent(
            at: Date(), owner: "<img src=x>", client: "c'", tool: "<svg onload=1>", plugin: "p", argumentsDigest: "", rows: 0, bytes: 0,
            duration: .milliseconds(1), outcome: .ok)
        let page = StatusPage.render(
            .init(
                serverName: "<name>", version: "0", host: HostStatus(generation: 7, plugins: [plugin], aliases: [], lastReload: nil, retiringGenerations: 0),
                activity: ToolActivitySnapshot(minutes: 15, tools: [], untrackedCalls: 0), audit: [AuditRecord(id: 1, event: event)], now: Date()))
        for raw in ["<b>p</b>", "<script>", "<img src=x>", "<svg onload=1>", "<name>", "bad & <i>"] { #expect(!page.contains(raw), "\(raw) unescaped") }
        #expect(page.contains("&lt;script&gt;") && page.contains("&lt;img src=x&gt;"))
        #expect(page.contains(#"<strong id="generation">7</strong>"#))
    }

    @Test("plugboard status's table: plugins, every tool with disabled ones and old names, the last reload")
    func table() throws {
        let status = try JSONValue(
            parsing: Array(
                #"""
                {"generation": 4, "retiring_generations": 0, "aliases": ["say"], "alias_targets": {"say": "repeat"},
                 "plugins": [{"name": "demo", "version": "1.2.0", "library_version": "1.2.0", "digest": "0123456789abcdef", "isolation": "in_process",
                              "tools": ["repeat", "divide"], "disabled_tools": ["slow"], "prompts": [], "resources": 0},
                             {"name": "echo_c", "version": "1.0.0", "library_version": "1.0.0", "digest": "fedcba9876543210", "isolation": "process",
                              "worker_restarts": 2, "tools": ["echo"], "disabled_tools": [], "refused_candidate": "manifest.yaml:3: bad"}],
                 "last_reload": {"reason": "SIGHUP", "applied": true, "partial": true, "generation": 4, "finished_at": "2026-12-02T22:00:00Z",
                                 "kept": [{"plugin": "echo_c", "version": "1.0.0", "reason": "bad"}], "refusals": [], "warnings": [], "needs_restart": []}}
                """#.utf8))
        let table = StatusTable.render(status)
        let expected = """
            generation 4

            PLUGIN  VERSION  ISOLATION   RESTARTS  DIGEST        NOTE
            demo    1.2.0    in_process  -         0123456789ab
            echo_c  1.0.0    process     2         fedcba987654  new version refused: manifest.yaml:3: bad

            TOOL    PLUGIN  STATE
            repeat  demo    served
            divide  demo    served
            slow    demo    disabled (config.yaml)
            echo    echo_c  served
            say     demo    old name of repeat

            last reload: applied in part (SIGHUP) at 2026-12-02T22:00:00Z, generation 4
              kept echo_c 1.0.0: its new version was refused: bad
            """
        #expect(table == expected, "\n\(table)")
    }
}
