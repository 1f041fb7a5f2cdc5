/// Why a plugin was refused (bad manifest, unloadable library, failed init ...): the manifest
/// file, the line when one is to blame, the plugin and a reason a user can act on.
public struct PluginRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var plugin: String?
    public var reason: String

    public init(file: String, line: Int?, plugin: String?, reason: String) {
        self.file = file
        self.line = line
        self.plugin = plugin
        self.reason = reason
    }

    public var description: String {
        let location = line.map { "\(file):\($0)" } ?? file
        let subject = plugin.map { "plugin '\($0)': " } ?? ""
        return "\(location): \(subject)\(reason)"
    }
}
