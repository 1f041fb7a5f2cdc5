/// A configuration that cannot be used, located in its file.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var reason: String

    public var description: String {
        "\(line.map { "\(file):\($0)" } ?? file): \(reason)"
    }
}
