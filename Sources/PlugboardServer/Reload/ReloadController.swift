import Logging
import PlugboardMCP
import PlugboardPlugins

/// Carries out reloads, whatever triggered them (file change, SIGHUP, `plugboard reload`):
/// re-reads config.yaml, has the plugin host build and swap the next generation, and tells
/// listening clients which lists changed.
public struct ReloadController: Sendable {
    let configuration: ServerConfiguration
    let plugins: PluginHost
    let listChanges: ListChangeHub
    var metrics: PlugboardMetrics?
    let logger: Logger

    public func reload(reason: String) async -> ReloadOutcome {
        let outcome = await apply(reason: reason)
        metrics?.record(outcome)
        return outcome
    }

    private func apply(reason: String) async -> ReloadOutcome {
        let fresh: ServerConfiguration
        do {
            fresh = try ConfigurationLoader.load(path: configuration.file)
        } catch {
            let outcome = ReloadOutcome.refused(
                reason, because: PluginRefusal(file: error.file, line: error.line, plugin: nil, reason: error.reason),
                generation: plugins.status.generation)
            plugins.record(outcome)
            return outcome
        }
        let outcome = await plugins.reload(
            reason: reason, configuration: fresh.plugins, needsRestart: configuration.settingsNeedingRestart(comparedTo: fresh))
        if outcome.applied { listChanges.publish(outcome.changes) }
        if !outcome.needsRestart.isEmpty {
            logger.warning("config.yaml changed settings that apply only after a restart: \(outcome.needsRestart.joined(separator: ", "))")
        }
        return outcome
    }
}
