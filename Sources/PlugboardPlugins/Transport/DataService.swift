import CPlugboard

/// Runs a plugin's scoped query for the owner of the call (the data layer implements it).
public protocol DataService: Sendable {
    /// - Returns: an ABI status and its bytes: PB_OK with rows as JSON, or an error message.
    func query(plugin: String, owner: String, request: [UInt8]) async -> (status: Int32, bytes: [UInt8])
}

/// The data service of a host with no database configured.
public struct NoDatabase: DataService {
    public init() {}

    public func query(plugin: String, owner: String, request: [UInt8]) async -> (status: Int32, bytes: [UInt8]) {
        (PB_UNAVAILABLE, Array("scoped queries are unavailable: this host has no database configured".utf8))
    }
}
