import PlugboardContracts
import PlugboardMCP

/// Times every scoped query a plugin makes, per plugin and outcome, whichever database answers.
/// Installed only when metrics are on.
struct MeteredData: DataService {
    let next: any DataService
    let metrics: PlugboardMetrics

    func prepare(_ declarations: [PluginTables]) async -> [String: String] {
        await next.prepare(declarations)
    }

    func query(_ request: [UInt8], scope: QueryScope, owner: String) async -> QueryReply {
        let started = ContinuousClock.now
        let reply = await next.query(request, scope: scope, owner: owner)
        metrics.queryDurations(scope.plugin, reply.outcome).recordNanoseconds((ContinuousClock.now - started).nanoseconds)
        return reply
    }
}
