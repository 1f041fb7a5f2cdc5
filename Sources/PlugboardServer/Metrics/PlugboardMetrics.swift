import CoreMetrics
import Foundation
import PlugboardMCP
import PlugboardPlugins
import Prometheus

/// Every metric the server exposes on `/metrics`, in one Prometheus registry of its own.
///
/// Lower layers record through swift-metrics' API with the factory passed to them (`MCPMetrics`),
/// so only this module knows Prometheus. Each app gets its own registry (tests run many apps in one
/// process); the `plugboard` command also bootstraps the process-wide `MetricsSystem` with it, so
/// libraries that report through swift-metrics land on the same page.
public final class PlugboardMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory
    let mcp: MCPMetrics
    let toolCalls: LabeledMetrics<CoreMetrics.Counter>
    let toolDurations: LabeledMetrics<CoreMetrics.Timer>
    let resultSizes: LabeledMetrics<Recorder>
    let queryDurations: LabeledMetrics<CoreMetrics.Timer>
    let authOutcomes: LabeledMetrics<CoreMetrics.Counter>
    let httpResponses: LabeledMetrics<CoreMetrics.Counter>
    let reloads: LabeledMetrics<CoreMetrics.Counter>
    let reloadDurations: CoreMetrics.Timer
    // Read from the plugin host when scraped, not kept up to date on every change.
    private let generation: Recorder
    private let retiringGenerations: Recorder
    private let workerRestarts: LabeledMetrics<Recorder>

    public init() {
        var configured = PrometheusMetricsFactory(registry: registry)
        // Tool calls take from tens of microseconds (an in-process C plugin) to the time limit.
        configured.defaultDurationHistogramBuckets = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2_500), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .microseconds(2_500_000),
            .seconds(5), .seconds(10), .seconds(30),
        ]
        configured.valueHistogramBuckets["plugboard_tool_result_bytes"] = [64, 256, 1_024, 4_096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304]
        let factory = configured
        self.factory = factory
        mcp = MCPMetrics(factory: factory)
        toolCalls = LabeledMetrics(labels: ["tool", "plugin", "outcome"]) { CoreMetrics.Counter(label: "plugboard_tool_calls_total", dimensions: $0, factory: factory) }
        toolDurations = LabeledMetrics(labels: ["tool", "plugin"]) {
            CoreMetrics.Timer(label: "plugboard_tool_call_duration_seconds", dimensions: $0, factory: factory)
        }
        resultSizes = LabeledMetrics(labels: ["tool", "plugin"]) { Recorder(label: "plugboard_tool_result_bytes", dimensions: $0, aggregate: true, factory: factory) }
        queryDurations = LabeledMetrics(labels: ["plugin", "outcome"]) {
            CoreMetrics.Timer(label: "plugboard_query_duration_seconds", dimensions: $0, factory: factory)
        }
        authOutcomes = LabeledMetrics(labels: ["outcome"]) { CoreMetrics.Counter(label: "plugboard_auth_requests_total", dimensions: $0, factory: factory) }
        httpResponses = LabeledMetrics(labels: ["status"]) {
            CoreMetrics.Counter(label: "plugboard_mcp_http_responses_total", dimensions: $0, factory: factory)
        }
        reloads = LabeledMetrics(labels: ["outcome"]) { CoreMetrics.Counter(label: "plugboard_reloads_total", dimensions: $0, factory: factory) }
        reloadDurations = CoreMetrics.Timer(label: "plugboard_reload_duration_seconds", factory: factory)
        generation = Recorder(label: "plugboard_generation", aggregate: false, factory: factory)
        retiringGenerations = Recorder(label: "plugboard_retiring_generations", aggregate: false, factory: factory)
        workerRestarts = LabeledMetrics(labels: ["plugin"]) { Recorder(label: "plugboard_plugin_worker_restarts", dimensions: $0, aggregate: false, factory: factory) }
    }

    /// Metrics for the `plugboard` process: also the process-wide swift-metrics backend. Call once.
    public static func bootstrapped() -> PlugboardMetrics {
        let metrics = PlugboardMetrics()
        MetricsSystem.bootstrap(metrics.factory)
        return metrics
    }

    /// A reload as `ReloadController` saw it end.
    func record(_ outcome: ReloadOutcome) {
        reloads(outcome.applied ? (outcome.partial ? "partial" : "applied") : "refused").increment()
        reloadDurations.recordNanoseconds(outcome.duration.nanoseconds)
    }

    /// The Prometheus text exposition, with the plugin host's current state read first.
    func scrape(_ plugins: PluginHost) -> [UInt8] {
        let status = plugins.status
        generation.record(Int64(status.generation))
        retiringGenerations.record(Int64(status.retiringGenerations))
        for plugin in status.plugins {
            if let restarts = plugin.workerRestarts { workerRestarts(plugin.name).record(Int64(restarts)) }
        }
        return registry.emitToBuffer()
    }
}
