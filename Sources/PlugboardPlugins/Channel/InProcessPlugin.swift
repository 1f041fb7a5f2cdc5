import CPlugboard
import Logging
import PlugboardContracts
import PlugboardMCP
import Synchronization

/// A plugin instance living in the host process, called through the C ABI.
public final class InProcessPlugin: PluginTransport, @unchecked Sendable {
    // `instance` and `table` are written once in `create` and released only by `retire`, after the
    // last call has drained; the plugin owns the synchronisation of its own instance.
    private let library: PluginLibrary
    private let instance: UnsafeMutableRawPointer
    private let table: UnsafeMutablePointer<pb_host_api>
    private let context: Unmanaged<HostContext>
    private let registry: CallRegistry
    private let identity: PluginInstance
    private let gate = CallGate()

    private init(library: PluginLibrary, instance: UnsafeMutableRawPointer, table: UnsafeMutablePointer<pb_host_api>,
                 context: Unmanaged<HostContext>, registry: CallRegistry) {
        self.library = library
        self.instance = instance
        self.table = table
        self.context = context
        self.registry = registry
        self.identity = context.takeUnretainedValue().instance
    }

    /// Creates an instance of the plugin in `library`, handing it the manifest's configuration.
    static func create(library: PluginLibrary, plugin: String, config: [UInt8], registry: CallRegistry,
                       data: any DataService, logger: Logger) throws(LoadFailure) -> InProcessPlugin {
        let context = Unmanaged.passRetained(HostContext(instance: registry.makeInstance(plugin: plugin), registry: registry, data: data, logger: logger))
        let table = UnsafeMutablePointer<pb_host_api>.allocate(capacity: 1)
        table.initialize(to: HostCallbacks.table(for: context.toOpaque()))
        var instance: UnsafeMutableRawPointer?
        var error = [CChar](repeating: 0, count: 1024)
        let status = config.withUnsafeBufferPointer { configBytes in
            library.descriptor.pointee.create(table, configBytes.baseAddress, configBytes.count, &instance, &error, error.count)
        }
        guard status == PB_OK, let instance else {
            table.deinitialize(count: 1)
            table.deallocate()
            context.release()
            let reason = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw LoadFailure("plugin init failed (create returned \(status))" + (reason.isEmpty ? "" : ": \(reason)"))
        }
        return InProcessPlugin(library: library, instance: instance, table: table, context: context, registry: registry)
    }

    public func invoke(_ call: PluginCall) async -> PluginOutcome {
        guard gate.enter() else { return .unavailable("plugin '\(identity.plugin)' is being retired") }
        defer { gate.leave() }
        // A request cancelled before its call starts never reaches the plugin.
        if call.cancellation?.isCancelled == true { return .cancelled }
        let id = registry.makeID()
        let descriptor = library.descriptor
        let target = SendablePlugin(descriptor: descriptor, instance: instance)
        let registry = self.registry
        return await withCheckedContinuation { continuation in
            registry.register(
                id,
                CallRegistry.Entry(
                    instance: identity,
                    owner: call.owner,
                    scope: call.scope,
                    meter: call.meter,
                    continuation: continuation,
                    progress: call.progress,
                    deadline: ContinuousClock().now.advanced(by: call.timeout),
                    cancelPlugin: { target.cancel(id) }
                ))
            call.cancellation?.onCancel { registry.cancel(id) }
            // Cancelled since the check above: the call has ended (or is ending) as cancelled.
            guard call.cancellation?.isCancelled != true else {
                registry.finish(id, with: .cancelled)
                return
            }
            call.handler.withCString { handler in
                call.input.withUnsafeBufferPointer { input in
                    descriptor.pointee.invoke(target.instance, id, handler, input.baseAddress, input.count)
                }
            }
        }
    }

    public func retire() async {
        await gate.close()
        library.descriptor.pointee.destroy(instance)
        table.deinitialize(count: 1)
        table.deallocate()
        context.release()
    }
}

/// The plugin's descriptor and instance, carried into `@Sendable` closures: the descriptor is
/// immutable and the plugin synchronises its own instance, as the ABI requires.
struct SendablePlugin: @unchecked Sendable {
    let descriptor: UnsafePointer<pb_plugin>
    let instance: UnsafeMutableRawPointer

    func cancel(_ call: UInt64) {
        descriptor.pointee.cancel?(instance, call)
    }
}

/// Counts calls in flight and lets `close` wait until the last one has left.
final class CallGate: Sendable {
    private struct State {
        var inFlight = 0
        var closed = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    func enter() -> Bool {
        state.withLock { state in
            guard !state.closed else { return false }
            state.inFlight += 1
            return true
        }
    }

    func leave() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.inFlight -= 1
            guard state.closed, state.inFlight == 0 else { return nil }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Refuses new calls and returns once none is in flight.
    func close() async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state -> Bool in
                state.closed = true
                if state.inFlight == 0 { return true }
                state.waiter = continuation
                return false
            }
            if done { continuation.resume() }
        }
    }
}
