/// The names a plugin called `plugin` goes by in each place that has its own rules.
struct ScaffoldNames {
    /// As in the manifest and the descriptor (already checked against NameRules).
    let plugin: String
    /// The library product: `lib<product>.so`. Dots would read as file extensions.
    var product: String { String(plugin.map { $0 == "." || $0 == "-" ? "_" : $0 }) }
    /// A Swift identifier for the target and its module: `my-tool.v2` → `MyToolV2`.
    var target: String {
        let words = plugin.split(whereSeparator: { $0 == "." || $0 == "-" || $0 == "_" })
        let camel = words.map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        guard let first = camel.first, !first.isNumber else { return "Plugin" + camel }
        return camel
    }
    /// The handler the one tool uses: stable while the tool's name may change.
    var handler: String { "\(plugin).add" }

    /// YAML would read an unquoted `true`, `null` or `1.0` as something other than a string.
    func quoted(_ value: String) -> String { "\"\(value)\"" }
}
