/// Whether the data layer serves every plugin it was last asked to prepare: `/readyz` answers
/// "not ready" while it does not, so a load balancer keeps sending calls to instances that can
/// answer them.
public protocol DataReadiness: Sendable {
    /// Why a plugin's scoping could not be set up in the last preparation; nil when nothing
    /// failed. A plugin refused for its own declarations (a table that does not exist) does not
    /// count: no other instance would serve it either.
    var unready: String? { get }
}
