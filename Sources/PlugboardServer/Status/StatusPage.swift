import Foundation
import PlugboardData
import PlugboardPlugins

/// `/status` as one server-rendered HTML page: no script, nothing fetched from elsewhere, every
/// value that comes from a manifest, a reload, a caller or the audit log escaped.
enum StatusPage {
    /// Sent with the page: nothing but the page's own inline styles may run or load.
    static let contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

    struct Content: Sendable {
        var serverName: String
        var version: String
        var host: HostStatus
        var activity: ToolActivitySnapshot
        var audit: [AuditRecord]
        /// Why the audit entries are missing, when the store could not be read.
        var auditProblem: String?
        var now: Date
    }

    static func render(_ content: Content) -> String {
        let host = content.host
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="referrer" content="no-referrer">
            <title>Status · \(e(content.serverName))</title>
            <style>\(style)</style></head>
            <body><main>
            <h1>\(e(content.serverName)) <span class="muted">\(e(content.version))</span></h1>
            <p class="lead">Serving generation <strong id="generation">\(host.generation)</strong>\
            \(host.retiringGenerations > 0 ? " · \(host.retiringGenerations) older generation(s) finishing requests" : "") · \
            rendered \(e(timestamp(content.now)))</p>
            <h2>Plugins</h2>
            \(plugins(host))
            \(aliases(host))
            <h2>Last reload</h2>
            \(lastReload(host.lastReload))
            <h2>Tool calls, last \(content.activity.minutes) minutes</h2>
            \(activity(content.activity))
            <h2>Recent audit entries</h2>
            \(audit(content.audit, problem: content.auditProblem))
            </main></body></html>
            """
    }

    private static let style = """
        body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
        main{max-width:1100px;margin:0 auto;padding:24px}
        h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}
        .muted{color:#6b7385;font-weight:normal}.lead{margin:0 0 8px;color:#3b4252}
        table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #dde1e8}
        th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eceff3;vertical-align:top}
        th{background:#eef1f5;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
        code{font:12px ui-monospace,Menlo,monospace}.bad{color:#b42318}.ok{color:#067647}
        svg{display:block}.legend{font-size:12px;color:#6b7385}
        """

    private static func plugins(_ host: HostStatus) -> String {
        guard !host.plugins.isEmpty else { return "<p>No plugin is serving.</p>" }
        let rows = host.plugins.map { plugin in
            let restarts = plugin.workerRestarts.map(String.init) ?? "–"
            let disabled = plugin.disabledTools.isEmpty ? "" : "<br><span class=\"muted\">disabled: \(e(plugin.disabledTools.joined(separator: ", ")))</span>"
            let refused = plugin.refusedCandidate.map { "<br><span class=\"bad\">new version refused: \(e($0))</span>" } ?? ""
            return """
                <tr class="plugin" data-plugin="\(e(plugin.name))"><td><strong>\(e(plugin.name))</strong>\(refused)</td>\
                <td>\(e(plugin.version))\(plugin.libraryVersion == plugin.version ? "" : " <span class=\"muted\">(library \(e(plugin.libraryVersion)))</span>")</td>\
                <td><code title="\(e(plugin.digest))">\(e(String(plugin.digest.prefix(12))))</code></td>\
                <td>\(e(plugin.isolation.rawValue))</td><td class="num">\(restarts)</td>\
                <td>\(e(plugin.tools.joined(separator: ", ")))\(disabled)</td></tr>
                """
        }
        return """
            <table id="plugins"><thead><tr><th>Plugin</th><th>Version</th><th>Library digest</th><th>Isolation</th>\
            <th>Worker restarts</th><th>Tools</th></tr></thead>
            <tbody>\(rows.joined(separator: "\n"))</tbody></table>
            """
    }

    private static func aliases(_ host: HostStatus) -> String {
        guard !host.aliasTargets.isEmpty else { return "" }
        let items = host.aliasTargets.sorted { $0.key < $1.key }.map { "<li><code>\(e($0.key))</code> → <code>\(e($0.value))</code></li>" }
        return "<p class=\"legend\">Old names still answering:</p><ul>\(items.joined())</ul>"
    }

    private static func lastReload(_ outcome: ReloadOutcome?) -> String {
        guard let outcome else { return "<p>No reload since the server started.</p>" }
        let verdict =
            !outcome.applied ? "<span class=\"bad\">refused</span>" : outcome.partial ? "<span class=\"bad\">applied in part</span>" : "<span class=\"ok\">applied</span>"
        var lines = [
            "<p id=\"last-reload\">\(verdict) · \(e(outcome.reason)) · generation \(outcome.generation) · \(e(timestamp(outcome.finishedAt)))"
                + " · \(String(format: "%.1f", Double(outcome.duration.components.seconds) * 1000 + Double(outcome.duration.components.attoseconds) / 1e15)) ms</p>"
        ]
        let items =
            outcome.kept.map { "kept \(e($0.name)) \(e($0.version)): its new version was refused: \(e($0.reason))" }
            + outcome.refusals.map { e($0.description) } + outcome.warnings.map { "warning: \(e($0))" }
            + outcome.needsRestart.map { "needs a restart to apply: \(e($0))" }
        if !items.isEmpty { lines.append("<ul>\(items.map { "<li>\($0)</li>" }.joined())</ul>") }
        return lines.joined(separator: "\n")
    }

    private static func activity(_ snapshot: ToolActivitySnapshot) -> String {
        var parts: [String] = []
        if snapshot.tools.isEmpty {
            parts.append("<p>No tool calls in this window.</p>")
        } else {
            let rows = snapshot.tools.map { tool in
                """
                <tr class="tool" data-tool="\(e(tool.tool))"><td><code>\(e(tool.tool))</code></td>\
                <td class="num">\(tool.calls)</td><td class="num">\(tool.errors)</td><td class="num">\(String(format: "%.2f", tool.rate))</td>\
                <td class="num">\(milliseconds(tool.p50))</td><td class="num">\(milliseconds(tool.p99))</td>\
                <td>\(StatusCharts.calls(tool))</td><td>\(StatusCharts.latency(tool))</td></tr>
                """
            }
            parts.append(
                """
                <table id="tools"><thead><tr><th>Tool</th><th>Calls</th><th>Errors</th><th>Calls/min</th><th>p50</th><th>p99</th>\
                <th>Calls per minute</th><th>p50 / p99 per minute</th></tr></thead>
                <tbody>\(rows.joined(separator: "\n"))</tbody></table>
                <p class="legend">Percentiles are the upper bound of a histogram bin (bins √2 apart). \
                Bars: calls per minute, errors in red. Lines: p50 (blue) and p99 (orange) on a log scale.</p>
                """)
        }
        if snapshot.untrackedCalls > 0 {
            parts.append("<p class=\"legend\">\(snapshot.untrackedCalls) calls of tools past the tracking cap are not charted.</p>")
        }
        return parts.joined(separator: "\n")
    }

    private static func audit(_ records: [AuditRecord], problem: String?) -> String {
        if let problem { return "<p class=\"bad\">\(e(problem))</p>" }
        guard !records.isEmpty else { return "<p>No audit entries yet.</p>" }
        let rows = records.reversed().map { record in
            let event = record.event
            return """
                <tr><td>\(e(timestamp(event.at)))</td><td>\(e(event.kind.rawValue))</td><td><code>\(e(event.tool))</code></td>\
                <td>\(e(event.plugin))</td><td>\(e(event.owner))</td><td>\(e(event.client ?? "–"))</td>\
                <td class="\(event.outcome == .ok ? "ok" : "bad")">\(e(event.outcome.rawValue))</td>\
                <td class="num">\(milliseconds(event.duration))</td><td class="num">\(event.rows)</td><td class="num">\(event.bytes)</td></tr>
                """
        }
        return """
            <table id="audit"><thead><tr><th>At</th><th>Kind</th><th>Name</th><th>Plugin</th><th>Owner</th><th>Client</th>\
            <th>Outcome</th><th>Duration</th><th>Rows</th><th>Bytes</th></tr></thead>
            <tbody>\(rows.joined(separator: "\n"))</tbody></table>
            """
    }

    static func milliseconds(_ duration: Duration?) -> String {
        guard let duration else { return "–" }
        let ms = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        return ms < 10 ? String(format: "%.2f ms", ms) : ms < 10_000 ? String(format: "%.0f ms", ms) : String(format: "%.1f s", ms / 1000)
    }

    private static func timestamp(_ date: Date) -> String {
        ISO8601DateFormatter().string(from: date)
    }

    private static func e(_ text: String) -> String {
        AuthorizePages.escape(text)
    }
}
