import CPlugboard
import Logging
import PlugboardContracts
import PlugboardMCP
import Synchronization

/// A plugin instance living in a `plugboard plugin-worker` child process (`isolation: process`).
///
/// If the worker dies, only the calls in flight on it fail, with a clean tool error; the worker
/// is started again with backoff and the next call waits for it. Retiring the plugin ends the
/// process, which really frees its memory.
public final class WorkerPlugin: PluginTransport {
    private let plugin: String
    /// What this worker's frames may act on: only calls given to it.
    private let identity: PluginInstance
    private let libraryPath: String
    private let config: [UInt8]
    private let executable: String
    private let registry: CallRegistry
    private let data: any DataService
    private let logger: Logger
    private let gate = CallGate()
    private let state = Mutex(State())

    private struct State {
        var worker: WorkerProcess?
        var ready = false
        var retired = false
        var waiting: [UInt64: CheckedContinuation<Bool, Never>] = [:]
        var nextWaiter: UInt64 = 0
        /// Waiters whose time ran out before they started waiting.
        var expired = Set<UInt64>()
        /// The calls on the worker now, with their handlers (to say what a crash interrupted).
        var inFlight: [UInt64: String] = [:]
        /// Calls failed as soon as the worker reported a crash, before it exited.
        var failedByCrash: [UInt64: String] = [:]
        var restarts = 0
        var consecutiveFailures = 0
    }

    private init(plugin: String, libraryPath: String, config: [UInt8], executable: String, registry: CallRegistry, data: any DataService, logger: Logger) {
        self.plugin = plugin
        self.identity = registry.makeInstance(plugin: plugin)
        self.libraryPath = libraryPath
        self.config = config
        self.executable = executable
        self.registry = registry
        self.data = data
        self.logger = logger
    }

    /// Starts the worker, which maps the library and reports what it is; `check` vets that against
    /// the manifest before the plugin is created. Fails like an in-process load would.
    static func start(
        library: (path: String, digest: String), manifest: Manifest, executable: String, registry: CallRegistry, data: any DataService,
        logger: Logger, check: (LibraryInfo) throws(LoadFailure) -> Void
    ) async throws(LoadFailure) -> (LibraryInfo, WorkerPlugin) {
        let transport = WorkerPlugin(
            plugin: manifest.plugin, libraryPath: library.path, config: manifest.config.jsonBytes, executable: executable, registry: registry,
            data: data, logger: logger)
        var info: LibraryInfo?
        var refusal: LoadFailure?
        do throws(LoadFailure) {
            try await transport.launch { name, version, handlers in
                let described = LibraryInfo(path: library.path, digest: library.digest, name: name, version: version, handlers: handlers)
                do throws(LoadFailure) {
                    try check(described)
                    info = described
                    return true
                } catch {
                    refusal = error
                    return false
                }
            }
        } catch {
            throw refusal ?? error
        }
        guard let info else { throw LoadFailure("the plugin worker did not describe its library") }
        return (info, transport)
    }

    /// Number of times the worker was started again after dying.
    public var restarts: Int { state.withLock { $0.restarts } }

    public func invoke(_ call: PluginCall) async -> PluginOutcome {
        guard gate.enter() else { return .unavailable("plugin '\(plugin)' is being retired") }
        defer { gate.leave() }
        // A request cancelled before its call starts never reaches the plugin.
        if call.cancellation?.isCancelled == true { return .cancelled }
        // The tool's timeout covers waiting for a restarting worker too: the call gets what is left.
        let deadline = ContinuousClock.now.advanced(by: call.timeout)
        guard let worker = await readyWorker(within: call.timeout) else {
            return ContinuousClock.now >= deadline ? .timedOut : .unavailable("plugin '\(plugin)' is restarting after a crash")
        }
        guard ContinuousClock.now < deadline else { return .timedOut }
        let id = registry.makeID()
        let registry = self.registry
        let sender = worker.sender
        return await withCheckedContinuation { continuation in
            registry.register(
                id,
                CallRegistry.Entry(
                    instance: identity, owner: call.owner, scope: call.scope, meter: call.meter, continuation: continuation, progress: call.progress,
                    deadline: deadline,
                    cancelPlugin: { [weak self] in
                        self?.state.withLock { _ = $0.inFlight.removeValue(forKey: id) }
                        sender.send(.cancel(call: id))
                    }))
            state.withLock { $0.inFlight[id] = call.handler }
            call.cancellation?.onCancel { registry.cancel(id) }
            // Cancelled before or while waiting for the worker: the call has ended (or is ending)
            // as cancelled, and the worker never hears of it.
            guard call.cancellation?.isCancelled != true else {
                state.withLock { _ = $0.inFlight.removeValue(forKey: id) }
                registry.finish(id, with: .cancelled)
                return
            }
            if !sender.send(.invoke(call: id, handler: call.handler, owner: call.owner, input: call.input)) {
                // The worker died under us; its exit handler fails the call (if it has not yet).
                registry.finish(id, with: .unavailable("plugin '\(plugin)' crashed"))
            }
        }
    }

    public func retire() async {
        await gate.close()
        let worker = state.withLock { state -> WorkerProcess? in
            state.retired = true
            state.ready = false
            for waiter in state.waiting.values { waiter.resume(returning: false) }
            state.waiting = [:]
            return state.worker
        }
        await worker?.stop()
    }

    // MARK: Worker lifecycle

    /// Waits for a ready worker, at most `limit` (and never more than 10 s).
    private func readyWorker(within limit: Duration) async -> WorkerProcess? {
        if let worker = state.withLock({ $0.ready ? $0.worker : nil }) { return worker }
        let waiter = state.withLock { state -> UInt64 in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        let timeout = Task { [weak self] in
            try? await Task.sleep(for: min(limit, .seconds(10)))
            self?.state.withLock { state -> CheckedContinuation<Bool, Never>? in
                guard let continuation = state.waiting.removeValue(forKey: waiter) else {
                    state.expired.insert(waiter)
                    return nil
                }
                return continuation
            }?.resume(returning: false)
        }
        defer {
            timeout.cancel()
            state.withLock { _ = $0.expired.remove(waiter) }
        }
        let ready = await withCheckedContinuation { continuation in
            let immediate = state.withLock { state -> Bool? in
                if state.ready { return true }
                if state.retired || state.expired.remove(waiter) != nil { return false }
                state.waiting[waiter] = continuation
                return nil
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
        return ready ? state.withLock { $0.worker } : nil
    }

    private func wakeWaiters(ready: Bool) {
        let waiters = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        for waiter in waiters { waiter.resume(returning: ready) }
    }

    /// Starts a worker process, creates the plugin in it and makes it the one calls go to.
    /// - Parameter accept: vets the library the worker describes; false stops the worker.
    private func launch(accept: (_ name: String, _ version: String, _ handlers: [String]) -> Bool = { _, _, _ in true }) async throws(LoadFailure) {
        let events = WorkerProcess.Events(
            frame: { [weak self] frame, worker in self?.receive(frame, from: worker) },
            crashing: { [weak self] worker, reason in self?.crashed(worker, reason: reason) },
            exited: { [weak self] worker in self?.workerExited(worker) })
        let worker = try await WorkerProcess.start(
            executable: executable, library: libraryPath, plugin: plugin, config: config, logger: logger, accept: accept, events: events)
        state.withLock { state in
            state.worker = worker
            state.ready = true
        }
        worker.listen()
        wakeWaiters(ready: true)
    }

    /// The worker is crashing (its backtracer has started): fail its calls now rather than once
    /// it exits; the exit restarts it as usual.
    private func crashed(_ worker: WorkerProcess, reason: String) {
        let lost = state.withLock { state -> [UInt64: String] in
            guard state.worker === worker else { return [:] }
            state.ready = false  // new calls wait for the restarted worker
            let lost = state.inFlight
            state.inFlight = [:]
            state.failedByCrash.merge(lost) { first, _ in first }
            return lost
        }
        for (call, handler) in lost {
            registry.finish(
                call, with: .unavailable("plugin '\(plugin)' crashed while handling this call in handler '\(handler)' (\(reason)); it is being restarted"))
        }
    }

    private func receive(_ frame: WorkerFrame, from worker: WorkerProcess) {
        switch frame {
        case .complete(let call, let status, let bytes):
            state.withLock { _ = $0.inFlight.removeValue(forKey: call) }
            registry.complete(call, status: status, bytes: bytes, from: identity)
        case .progress(let call, let progress, let total, let message):
            guard progress.isFinite else { return }
            registry.progress(
                call, ProgressUpdate(progress: progress, total: total >= 0 ? total : nil, message: message.map { String(decoding: $0, as: UTF8.self) }),
                from: identity)
        case .log(let call, let level, let message):
            let text = String(decoding: message, as: UTF8.self)
            let logLevel: Logger.Level = level >= PB_LOG_ERROR ? .error : level == PB_LOG_WARNING ? .warning : level == PB_LOG_DEBUG ? .debug : .info
            logger.log(level: logLevel, "\(text)", metadata: ["plugin": "\(plugin)", "call": "\(call)", "isolation": "process"])
        case .query(let call, let query, let request):
            let context = registry.queryContext(of: call, for: identity)
            let data = self.data
            Task {
                var reply = QueryReply.failure(PB_INVALID_ARGUMENTS, "query for a call that is not in flight")
                if let (owner, scope, meter) = context {
                    reply = await data.query(request, scope: scope, owner: owner)
                    meter?.add(rows: reply.rows)
                }
                worker.sender.send(.queryResult(query: query, status: reply.status, bytes: reply.bytes))
            }
        default:
            logger.warning("unexpected frame from the plugin worker", metadata: ["plugin": "\(plugin)"])
        }
    }

    /// The worker died: fail its calls in flight and start a new one, with backoff.
    private func workerExited(_ worker: WorkerProcess) {
        let (lost, retired, failures) = state.withLock { state -> ([UInt64: String], Bool, Int) in
            guard state.worker === worker else { return ([:], true, 0) }
            state.ready = false
            state.worker = nil
            let lost = state.inFlight.merging(state.failedByCrash) { first, _ in first }
            state.inFlight = [:]
            state.failedByCrash = [:]
            // A worker that ran a while was healthy: start the backoff afresh.
            state.consecutiveFailures = ContinuousClock.now - worker.startedAt > .seconds(30) ? 1 : state.consecutiveFailures + 1
            return (lost, state.retired, state.consecutiveFailures)
        }
        worker.closeInput()
        guard !retired else { return }
        let reason = worker.ending
        let handlers = Set(lost.values).sorted().joined(separator: ", ")
        logger.error(
            "plugin worker died (\(reason)) in \(lost.isEmpty ? "no call" : "handler \(handlers)"); \(lost.count) call(s) failed; restarting",
            metadata: ["plugin": "\(plugin)"])
        for (call, handler) in lost {
            // Calls failed when the crash began are no longer in the registry: this does nothing for them.
            registry.finish(
                call, with: .unavailable("plugin '\(plugin)' crashed while handling this call in handler '\(handler)' (\(reason)); it is being restarted"))
        }
        let delay = Duration.milliseconds(min(5_000, 50 << min(failures - 1, 7)))
        Task {
            try? await Task.sleep(for: delay)
            guard !state.withLock({ $0.retired }) else { return }
            await restart()
        }
    }

    private func restart() async {
        do throws(LoadFailure) {
            try await launch()
            state.withLock { $0.restarts += 1 }
        } catch {
            logger.error("plugin worker failed to restart: \(error)", metadata: ["plugin": "\(plugin)"])
            workerFailedToStart()
        }
    }

    /// A restart failed: try again later, and let waiting calls fail meanwhile.
    private func workerFailedToStart() {
        wakeWaiters(ready: false)
        let failures = state.withLock { state -> Int in
            state.consecutiveFailures += 1
            return state.consecutiveFailures
        }
        Task {
            try? await Task.sleep(for: .milliseconds(min(5_000, 50 << min(failures - 1, 7))))
            guard !state.withLock({ $0.retired }) else { return }
            await restart()
        }
    }
}
