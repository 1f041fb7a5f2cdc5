import Foundation

/// The status page's small inline SVG charts, one point per minute of the window, oldest left.
/// Only numbers reach the markup; the tool's name goes to an escaped `aria-label`.
enum StatusCharts {
    static let width = 180.0
    static let height = 40.0

    /// Calls per minute as bars, the errors of each minute in red over them.
    static func calls(_ tool: ToolActivity) -> String {
        let peak = Double(max(tool.minutes.map(\.calls).max() ?? 0, 1))
        let step = width / Double(max(tool.minutes.count, 1))
        var bars = ""
        for (index, minute) in tool.minutes.enumerated() where minute.calls > 0 {
            let x = Double(index) * step + 1
            let h = max(1, Double(minute.calls) / peak * (height - 2))
            bars += rect(x: x, y: height - h, width: step - 2, height: h, fill: "#4c78a8")
            if minute.errors > 0 {
                let eh = max(1, Double(minute.errors) / peak * (height - 2))
                bars += rect(x: x, y: height - eh, width: step - 2, height: eh, fill: "#d62728")
            }
        }
        return svg(
            kind: "calls", tool: tool.tool, label: "calls per minute of \(tool.tool), peak \(Int(peak))",
            content: bars + "<text x=\"3\" y=\"10\" font-size=\"9\" fill=\"#6b7385\">\(Int(peak))/min</text>")
    }

    /// p50 and p99 per minute as lines on a log scale between the window's extremes (a call's
    /// duration spans orders of magnitude; a linear axis would flatten every p50 to the floor).
    static func latency(_ tool: ToolActivity) -> String {
        let values = tool.minutes.flatMap { [$0.p50, $0.p99] }.compactMap { $0.map(seconds) }
        guard let low = values.min(), let high = values.max() else { return svg(kind: "latency", tool: tool.tool, label: "no calls", content: "") }
        let (floor, ceiling) = (log10(low) - 0.1, log10(high) + 0.1)
        let step = width / Double(max(tool.minutes.count, 1))
        func line(_ pick: (ToolActivity.Minute) -> Duration?, color: String) -> String {
            let points = tool.minutes.enumerated().compactMap { index, minute -> String? in
                guard let value = pick(minute) else { return nil }
                let y = height - 2 - (log10(seconds(value)) - floor) / (ceiling - floor) * (height - 4)
                return "\(format(Double(index) * step + step / 2)),\(format(y))"
            }
            guard !points.isEmpty else { return "" }
            let dots = points.map { "<circle cx=\"\($0.split(separator: ",")[0])\" cy=\"\($0.split(separator: ",")[1])\" r=\"1.6\" fill=\"\(color)\"/>" }
            return "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\"\(points.joined(separator: " "))\"/>" + dots.joined()
        }
        return svg(
            kind: "latency", tool: tool.tool, label: "p50 and p99 per minute of \(tool.tool)",
            content: line(\.p50, color: "#1f77b4") + line(\.p99, color: "#ff7f0e")
                + "<text x=\"3\" y=\"10\" font-size=\"9\" fill=\"#6b7385\">p99 \(StatusPage.milliseconds(tool.p99))</text>")
    }

    private static func svg(kind: String, tool: String, label: String, content: String) -> String {
        """
        <svg class="chart \(kind)" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" \
        role="img" aria-label="\(AuthorizePages.escape(label))" xmlns="http://www.w3.org/2000/svg">\
        <rect x="0" y="0" width="\(Int(width))" height="\(Int(height))" fill="#fafbfc" stroke="#e3e6eb"/>\(content)</svg>
        """
    }

    private static func rect(x: Double, y: Double, width: Double, height: Double, fill: String) -> String {
        "<rect x=\"\(format(x))\" y=\"\(format(y))\" width=\"\(format(max(width, 1)))\" height=\"\(format(height))\" fill=\"\(fill)\"/>"
    }

    private static func seconds(_ duration: Duration) -> Double {
        max(Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18, 1e-6)
    }

    private static func format(_ value: Double) -> String {
        String(format: "%.1f", value)
    }
}
