import PlugboardJSON
import PlugboardMCP

/// How a one-off call (`plugboard call`) ended.
public enum OneCallOutcome: Sendable {
    /// The tool's result, as `tools/call` would return it (possibly with `isError: true`).
    case result(JSONValue)
    /// The call never reached a tool: an unknown tool, or a caller who may not see it.
    case refused(String)
}

extension PlugboardApp {
    /// Starts the host as `serve` does (migrations, seed, plugins), calls one tool through the
    /// catalog exactly as `tools/call` would, then stops. No listener is opened.
    /// - Parameter owner: the owner the call runs for; nil means `auth.local_owner`, as a server
    ///   without authentication would use.
    public func callOnce(tool: String, arguments: JSONObject, owner: String?) async throws -> OneCallOutcome {
        try await start()
        let outcome: OneCallOutcome
        let lease = plugins.leaseCatalog()
        do {
            // Unrestricted scopes: the shell user is the operator, like a stdio client.
            let caller = MCPCaller(owner: owner ?? configuration.auth.localOwner)
            let context = MCPCallContext(caller: caller, requestID: .string("plugboard-call"), progress: nil, cancellation: CancellationSignal())
            outcome = .result(try await lease.catalog.callTool(tool, arguments: arguments, context: context))
        } catch {
            outcome = .refused(error.message)
        }
        lease.release()
        await stop()
        return outcome
    }
}
