import Synchronization

/// The C entry points of the descriptor. C function pointers cannot capture context, so they
/// reach the plugin's handlers through this per-library static state.
enum PluginRuntime {
    static let definition = Mutex<PluginDefinition?>(nil)

    static let create: @convention(c) (
        UnsafePointer<pb_host_api>?, UnsafePointer<UInt8>?, Int, UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
        UnsafeMutablePointer<CChar>?, Int
    ) -> Int32 = { host, config, configLength, instanceOut, error, errorCapacity in
        func fail(_ message: String) -> Int32 {
            if let error, errorCapacity > 0 {
                let bytes = Array(message.utf8.prefix(errorCapacity - 1))
                for (offset, byte) in bytes.enumerated() { error[offset] = CChar(bitPattern: byte) }
                error[bytes.count] = 0
            }
            return PB_INTERNAL_ERROR
        }
        guard let host, let instanceOut else { return fail("create called without a host table") }
        let hostAPI: HostAPI
        switch HostAPI.read(host) {
        case .success(let api): hostAPI = api
        case .failure(let error): return fail(error.description)
        }
        guard let definition = PluginRuntime.definition.withLock({ $0 }) else {
            return fail("plugin descriptor was not exported through Plugboard.export")
        }
        let configuration = PluginConfiguration(json: config.map { Array(UnsafeBufferPointer(start: $0, count: configLength)) } ?? Array("{}".utf8))
        if let configure = definition.configure {
            do {
                try configure(configuration)
            } catch {
                return fail(String(describing: error))
            }
        }
        let instance = PluginInstance(definition: definition, host: hostAPI)
        instanceOut.pointee = Unmanaged.passRetained(instance).toOpaque()
        return PB_OK
    }

    static let invoke: @convention(c) (UnsafeMutableRawPointer?, UInt64, UnsafePointer<CChar>?, UnsafePointer<UInt8>?, Int) -> Void = {
        raw, call, handler, arguments, length in
        guard let raw, let handler else { return }
        let instance = Unmanaged<PluginInstance>.fromOpaque(raw).takeUnretainedValue()
        let input = arguments.map { Array(UnsafeBufferPointer(start: $0, count: length)) } ?? []
        instance.start(call: call, handler: String(cString: handler), input: input)
    }

    static let cancel: @convention(c) (UnsafeMutableRawPointer?, UInt64) -> Void = { raw, call in
        guard let raw else { return }
        Unmanaged<PluginInstance>.fromOpaque(raw).takeUnretainedValue().cancel(call: call)
    }

    static let destroy: @convention(c) (UnsafeMutableRawPointer?) -> Void = { raw in
        guard let raw else { return }
        Unmanaged<PluginInstance>.fromOpaque(raw).takeRetainedValue().cancelAll()
    }
}

/// One created instance of the plugin: its handlers, the host table and the calls in flight.
final class PluginInstance: Sendable {
    private let definition: PluginDefinition
    private let host: HostAPI
    private let tasks = Mutex<[UInt64: Task<Void, Never>]>([:])

    init(definition: PluginDefinition, host: HostAPI) {
        self.definition = definition
        self.host = host
    }

    func start(call: UInt64, handler name: String, input: [UInt8]) {
        guard let handler = definition.handlers[name] else {
            host.complete(call, PluginReply(status: PB_UNKNOWN_HANDLER, text: "this library has no handler named '\(name)'"))
            return
        }
        let host = self.host
        // The task is registered under the lock it takes to unregister itself, so a fast handler
        // cannot finish before it is recorded.
        tasks.withLock { tasks in
            tasks[call] = Task {
                let reply = await handler(input, CallContext(id: call, host: host))
                self.tasks.withLock { _ = $0.removeValue(forKey: call) }
                host.complete(call, reply)
            }
        }
    }

    func cancel(call: UInt64) {
        tasks.withLock { $0[call] }?.cancel()
    }

    func cancelAll() {
        for task in tasks.withLock({ Array($0.values) }) { task.cancel() }
    }
}
