import PlugboardJSON

/// `plugboard status` for people: the admin socket's JSON as aligned tables (plugins, then every
/// tool with its state: served, disabled in config.yaml, or an old name calling another), then the
/// last reload. Scripts use `--json`, which prints the JSON itself.
public enum StatusTable {
    public static func render(_ status: JSONValue) -> String {
        var out: [String] = []
        var heading = "generation \(status["generation"]?.integerValue.map(String.init) ?? "?")"
        if let retiring = status["retiring_generations"]?.integerValue, retiring > 0 { heading += " (\(retiring) older still finishing requests)" }
        out.append(heading)

        let plugins = status["plugins"]?.arrayValue ?? []
        out.append("")
        if plugins.isEmpty {
            out.append("no plugin is serving")
        } else {
            var rows = [["PLUGIN", "VERSION", "ISOLATION", "RESTARTS", "DIGEST", "NOTE"]]
            for plugin in plugins {
                let version = text(plugin["version"])
                let library = text(plugin["library_version"])
                rows.append([
                    text(plugin["name"]), library.isEmpty || library == version ? version : "\(version) (library \(library))",
                    text(plugin["isolation"]), plugin["worker_restarts"]?.integerValue.map(String.init) ?? "-", String(text(plugin["digest"]).prefix(12)),
                    plugin["refused_candidate"]?.stringValue.map { "new version refused: \($0)" } ?? "",
                ])
            }
            out += table(rows)
        }

        var tools = [["TOOL", "PLUGIN", "STATE"]]
        var servedBy: [String: String] = [:]
        for plugin in plugins {
            let name = text(plugin["name"])
            for tool in plugin["tools"]?.arrayValue ?? [] {
                servedBy[text(tool)] = name
                tools.append([text(tool), name, "served"])
            }
            for tool in plugin["disabled_tools"]?.arrayValue ?? [] { tools.append([text(tool), name, "disabled (config.yaml)"]) }
        }
        let targets = status["alias_targets"]?.objectValue?.entries ?? []
        for (alias, target) in targets.sorted(by: { $0.key < $1.key }) {
            tools.append([alias, servedBy[text(target)] ?? "-", "old name of \(text(target))"])
        }
        if tools.count > 1 {
            out.append("")
            out += table(tools)
        }

        out.append("")
        out += lastReload(status["last_reload"])
        return out.joined(separator: "\n")
    }

    private static func lastReload(_ reload: JSONValue?) -> [String] {
        guard let reload, reload != .null else { return ["last reload: none since the server started"] }
        let applied = reload["applied"] == .bool(true)
        let verdict = !applied ? "refused" : reload["partial"] == .bool(true) ? "applied in part" : "applied"
        var lines = [
            "last reload: \(verdict) (\(text(reload["reason"]))) at \(text(reload["finished_at"])), generation \(reload["generation"]?.integerValue.map(String.init) ?? "?")"
        ]
        for kept in reload["kept"]?.arrayValue ?? [] {
            lines.append("  kept \(text(kept["plugin"])) \(text(kept["version"])): its new version was refused: \(text(kept["reason"]))")
        }
        for refusal in reload["refusals"]?.arrayValue ?? [] { lines.append("  refused: \(text(refusal["message"]))") }
        for warning in reload["warnings"]?.arrayValue ?? [] { lines.append("  warning: \(text(warning))") }
        for setting in reload["needs_restart"]?.arrayValue ?? [] { lines.append("  needs a restart to apply: \(text(setting))") }
        return lines
    }

    /// Columns padded to their widest cell; the last column is not padded.
    static func table(_ rows: [[String]]) -> [String] {
        let columns = rows.map(\.count).max() ?? 0
        let widths = (0..<columns).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }
    }

    private static func text(_ value: JSONValue?) -> String {
        value?.stringValue ?? ""
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var copy = self
        while copy.last == " " { copy.removeLast() }
        return copy
    }
}
