import PlugboardContracts
import PlugboardMCP

/// Counts tool calls from the audit events the catalog already records (tool, plugin, outcome,
/// duration, result size), then passes each event on: one place describes a call, so the audit
/// log and the metrics cannot disagree. Installed only when metrics are on.
struct MeteredAudit: AuditSink {
    let next: any AuditSink
    let metrics: PlugboardMetrics

    func record(_ event: AuditEvent) {
        // Resource URIs and unknown names are the client's choice: as labels they would grow
        // without bound. Those requests are still counted per method.
        if event.kind == .tool, event.outcome != .unknownTool {
            metrics.toolCalls(event.tool, event.plugin, event.outcome.rawValue).increment()
            metrics.toolDurations(event.tool, event.plugin).recordNanoseconds(event.duration.nanoseconds)
            if event.bytes > 0 { metrics.resultSizes(event.tool, event.plugin).record(event.bytes) }
        }
        next.record(event)
    }
}
