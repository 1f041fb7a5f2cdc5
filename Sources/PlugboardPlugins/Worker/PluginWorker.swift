import CPlugboard
import Glibc
import Synchronization

/// The worker side of isolation mode: `plugboard plugin-worker` loads one plugin library and
/// serves the host's calls over stdin/stdout. A crash here ends only this process; the host
/// fails the calls that were in flight and starts a new worker.
public enum PluginWorker {
    /// Serves until the host closes stdin, then destroys the instance. Returns the exit status.
    public static func run(library path: String, plugin: String) -> Int32 {
        // Stdout carries frames: anything the plugin prints must go to stderr instead.
        let output = dup(STDOUT_FILENO)
        dup2(STDERR_FILENO, STDOUT_FILENO)
        let sender = FrameSender(descriptor: output)
        let input = FrameChannel(descriptor: STDIN_FILENO)

        let library: PluginLibrary
        do {
            library = try PluginLibrary.open(path: path, digest: "", displayName: fileName(of: path))
        } catch {
            sender.send(.created(status: PB_INTERNAL_ERROR, message: error.description))
            return 1
        }
        sender.send(.described(name: library.name, version: library.version, handlers: library.handlers))
        // The host checks the library against the manifest; it closes our input if it refuses.
        guard case .create(let config)? = input.read() else { return 1 }
        let host = Unmanaged.passRetained(WorkerHost(sender: sender))
        let table = UnsafeMutablePointer<pb_host_api>.allocate(capacity: 1)
        table.initialize(to: WorkerHost.table(context: host.toOpaque()))
        var instance: UnsafeMutableRawPointer?
        var error = [CChar](repeating: 0, count: 1024)
        let status = config.withUnsafeBufferPointer { bytes in
            library.descriptor.pointee.create(table, bytes.baseAddress, bytes.count, &instance, &error, error.count)
        }
        guard status == PB_OK, let instance else {
            let reason = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            sender.send(.created(status: status == PB_OK ? PB_INTERNAL_ERROR : status, message: reason))
            return 1
        }
        sender.send(.created(status: PB_OK, message: ""))

        let worker = host.takeUnretainedValue()
        while let frame = input.read() {
            switch frame {
            case .invoke(let call, let handler, let owner, let arguments):
                worker.begin(call, owner: owner)
                handler.withCString { name in
                    arguments.withUnsafeBufferPointer { library.descriptor.pointee.invoke(instance, call, name, $0.baseAddress, $0.count) }
                }
            case .cancel(let call):
                if worker.cancel(call) { library.descriptor.pointee.cancel?(instance, call) }
            case .queryResult(let query, let status, let bytes):
                worker.finishQuery(query, status: status, bytes: bytes)
            default:
                break
            }
        }
        library.descriptor.pointee.destroy(instance)
        return 0
    }

    private static func fileName(of path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}

/// The host callbacks inside a worker: each one becomes a frame to the real host.
final class WorkerHost: Sendable {
    private struct State {
        var owners: [UInt64: String] = [:]
        var nextQuery: UInt64 = 0
        var queries: [UInt64: QueryContinuation] = [:]
    }

    private let sender: FrameSender
    private let state = Mutex(State())

    init(sender: FrameSender) {
        self.sender = sender
    }

    func begin(_ call: UInt64, owner: String) {
        state.withLock { $0.owners[call] = owner }
    }

    /// Forgets a cancelled call; true if it was in flight.
    func cancel(_ call: UInt64) -> Bool {
        state.withLock { $0.owners.removeValue(forKey: call) != nil }
    }

    func finishQuery(_ query: UInt64, status: Int32, bytes: [UInt8]) {
        guard let continuation = state.withLock({ $0.queries.removeValue(forKey: query) }) else { return }
        bytes.withUnsafeBufferPointer { continuation.done(continuation.context, status, $0.baseAddress, $0.count) }
    }

    static func from(_ raw: UnsafeMutableRawPointer?) -> WorkerHost? {
        raw.map { Unmanaged<WorkerHost>.fromOpaque($0).takeUnretainedValue() }
    }

    static func table(context: UnsafeMutableRawPointer) -> pb_host_api {
        pb_host_api(
            struct_size: UInt32(MemoryLayout<pb_host_api>.size),
            abi_major: UInt16(PLUGBOARD_ABI_MAJOR),
            abi_minor: UInt16(PLUGBOARD_ABI_MINOR),
            host_ctx: context,
            log: { raw, call, level, message, length in
                WorkerHost.from(raw)?.sender.send(.log(call: call, level: level, message: WorkerHost.bytes(message, length)))
            },
            progress: { raw, call, value, total, message, length in
                WorkerHost.from(raw)?.sender.send(
                    .progress(call: call, progress: value, total: total, message: message == nil ? nil : WorkerHost.bytes(message, length)))
            },
            is_cancelled: { raw, call in
                guard let host = WorkerHost.from(raw) else { return 1 }
                return host.state.withLock { $0.owners[call] == nil } ? 1 : 0
            },
            owner: { raw, call, buffer, capacity in
                guard let host = WorkerHost.from(raw), let owner = host.state.withLock({ $0.owners[call] }) else { return 0 }
                let ownerBytes = Array(owner.utf8)
                guard ownerBytes.count <= capacity, let buffer else { return ownerBytes.count }
                for (offset, byte) in ownerBytes.enumerated() { buffer[offset] = CChar(bitPattern: byte) }
                return ownerBytes.count
            },
            query: { raw, call, request, length, done, doneContext in
                guard let host = WorkerHost.from(raw), let done else { return }
                let query = host.state.withLock { state -> UInt64 in
                    state.nextQuery += 1
                    state.queries[state.nextQuery] = QueryContinuation(done: done, context: doneContext)
                    return state.nextQuery
                }
                let payload = request.map { Array(UnsafeBufferPointer(start: $0, count: length)) } ?? []
                host.sender.send(.query(call: call, query: query, request: payload))
            },
            complete: { raw, call, status, json, length in
                guard let host = WorkerHost.from(raw) else { return }
                // A second completion, or one after a cancel, stops here as it would in the host.
                guard host.state.withLock({ $0.owners.removeValue(forKey: call) }) != nil else { return }
                host.sender.send(.complete(call: call, status: status, bytes: json.map { Array(UnsafeBufferPointer(start: $0, count: length)) } ?? []))
            }
        )
    }

    static func bytes(_ pointer: UnsafePointer<CChar>?, _ length: Int) -> [UInt8] {
        guard let pointer, length > 0 else { return [] }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
    }
}

/// A plugin's pending query completion inside the worker.
private struct QueryContinuation: @unchecked Sendable {
    // The plugin keeps `context` valid until `done` is called, once, by finishQuery.
    let done: pb_query_done_fn
    let context: UnsafeMutableRawPointer?
}
