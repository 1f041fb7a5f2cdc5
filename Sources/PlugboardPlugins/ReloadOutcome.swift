import Foundation
import PlugboardJSON
import PlugboardMCP

/// How a reload went: applied (and what changed) or refused (and why, with file and line).
public struct ReloadOutcome: Sendable {
    /// What triggered it: "file change", "SIGHUP", "plugboard reload" ...
    public var reason: String
    public var applied: Bool
    /// The generation serving after the reload (unchanged when refused).
    public var generation: UInt64
    public var refusals: [PluginRefusal]
    public var warnings: [String]
    /// Which lists clients see changed.
    public var changes: ListChanges
    /// Plugins whose library was (re)loaded, kept as they were, or dropped.
    public var loaded: [String]
    public var carriedOver: [String]
    public var removed: [String]
    /// From the start of the reload to the new generation serving.
    public var duration: Duration
    public var finishedAt: Date
    /// Settings that changed in config.yaml but only apply after a restart.
    public var needsRestart: [String] = []
    /// Plugins whose new version was refused and whose previous version serves on. An applied
    /// reload with refusals is partial.
    public var kept: [KeptPlugin] = []

    /// Applied, but some plugin's new version was refused (kept at its previous version, or a new
    /// plugin left out).
    public var partial: Bool { applied && !refusals.isEmpty }

    /// A refused reload that never got as far as the plugins (an unreadable config.yaml).
    public static func refused(_ reason: String, because problem: PluginRefusal, generation: UInt64) -> ReloadOutcome {
        ReloadOutcome(
            reason: reason, applied: false, generation: generation, refusals: [problem], warnings: [], changes: .none, loaded: [],
            carriedOver: [], removed: [], duration: .zero, finishedAt: Date())
    }

    public var json: JSONValue {
        [
            "reason": .string(reason),
            "applied": .bool(applied),
            "partial": .bool(partial),
            "generation": .int(Int64(generation)),
            "refusals": .array(refusals.map { refusal in
                var object: JSONObject = ["file": .string(refusal.file), "reason": .string(refusal.reason), "message": .string(refusal.description)]
                if let line = refusal.line { object["line"] = .int(Int64(line)) }
                if let plugin = refusal.plugin { object["plugin"] = .string(plugin) }
                return .object(object)
            }),
            "warnings": .array(warnings.map(JSONValue.string)),
            "changed": ["tools": .bool(changes.tools), "resources": .bool(changes.resources), "prompts": .bool(changes.prompts)],
            "loaded": .array(loaded.map(JSONValue.string)),
            "carried_over": .array(carriedOver.map(JSONValue.string)),
            "removed": .array(removed.map(JSONValue.string)),
            "kept": .array(kept.map { ["plugin": .string($0.name), "version": .string($0.version), "reason": .string($0.reason)] }),
            "needs_restart": .array(needsRestart.map(JSONValue.string)),
            "duration_ms": .double((duration.milliseconds * 1000).rounded() / 1000),
            "finished_at": .string(ISO8601DateFormatter().string(from: finishedAt)),
        ]
    }
}

/// What the host serves now, for the status endpoint.
public struct HostStatus: Sendable {
    public var generation: UInt64
    public var plugins: [PluginSummary]
    /// Old names of tools renamed by the last reload, still answering.
    public var aliases: [String]
    /// Each of those old names with the tool it calls now.
    public var aliasTargets: [String: String] = [:]
    public var lastReload: ReloadOutcome?
    /// Replaced generations still finishing requests.
    public var retiringGenerations: Int

    public var json: JSONValue {
        [
            "generation": .int(Int64(generation)),
            "plugins": .array(plugins.map { plugin in
                var object: JSONObject = [
                    "name": .string(plugin.name), "version": .string(plugin.version), "library_version": .string(plugin.libraryVersion),
                    "manifest": .string(plugin.manifest),
                    "digest": .string(plugin.digest), "isolation": .string(plugin.isolation.rawValue),
                    "tools": .array(plugin.tools.map(JSONValue.string)), "prompts": .array(plugin.prompts.map(JSONValue.string)),
                    "resources": .int(Int64(plugin.resources)),
                ]
                if let restarts = plugin.workerRestarts { object["worker_restarts"] = .int(Int64(restarts)) }
                if let refused = plugin.refusedCandidate { object["refused_candidate"] = .string(refused) }
                object["disabled_tools"] = .array(plugin.disabledTools.map(JSONValue.string))
                return .object(object)
            }),
            "aliases": .array(aliases.map(JSONValue.string)),
            "alias_targets": .object(JSONObject(aliasTargets.sorted { $0.key < $1.key }.map { (key: $0.key, value: JSONValue.string($0.value)) })),
            "last_reload": lastReload?.json ?? .null,
            "retiring_generations": .int(Int64(retiringGenerations)),
        ]
    }
}
