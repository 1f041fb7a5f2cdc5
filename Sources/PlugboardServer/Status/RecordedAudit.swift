import PlugboardContracts

/// Feeds the status page's per-tool charts from the audit events, the same seam as
/// `MeteredAudit`: a call is described once, where the catalog completes it.
struct RecordedAudit: AuditSink {
    let next: any AuditSink
    let recorder: ToolActivityRecorder

    func record(_ event: AuditEvent) {
        // Unknown names are the client's choice: charting them would let a client fill the cap.
        if event.kind == .tool, event.outcome != .unknownTool {
            recorder.record(tool: event.tool, duration: event.duration, failed: event.outcome != .ok)
        }
        next.record(event)
    }
}
