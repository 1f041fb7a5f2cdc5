import CPlugboard
import Foundation
import Glibc
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
        var worker: Worker?
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

    /// One running worker process.
    private final class Worker: Sendable {
        let process: Process
        let sender: FrameSender
        private let input: Int32
        private let inputClosed = Atomic<Bool>(false)
        let startedAt = ContinuousClock.now

        init(process: Process, input: Int32) {
            self.process = process
            self.input = input
            self.sender = FrameSender(descriptor: input)
        }

        /// Ends the worker's input (it then destroys the instance and exits). Retirement and the
        /// exit handler both get here; the descriptor is closed once, or a second close could
        /// hit a descriptor the process has reused meanwhile.
        func closeInput() {
            if inputClosed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged {
                close(input)
            }
        }
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
        let failure = await transport.launch { name, version, handlers in
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
        if let refusal { throw refusal }
        guard failure == nil, let info else { throw LoadFailure(failure ?? "the plugin worker did not describe its library") }
        return (info, transport)
    }

    /// Number of times the worker was started again after dying.
    public var restarts: Int { state.withLock { $0.restarts } }

    public func invoke(_ call: PluginCall) async -> PluginOutcome {
        guard gate.enter() else { return .unavailable("plugin '\(plugin)' is being retired") }
        defer { gate.leave() }
        guard let worker = await readyWorker(within: call.timeout) else {
            return .unavailable("plugin '\(plugin)' is restarting after a crash")
        }
        let id = registry.makeID()
        let registry = self.registry
        let sender = worker.sender
        return await withCheckedContinuation { continuation in
            registry.register(
                id,
                CallRegistry.Entry(
                    instance: identity, owner: call.owner, scope: call.scope, meter: call.meter, continuation: continuation, progress: call.progress,
                    deadline: ContinuousClock().now.advanced(by: call.timeout),
                    cancelPlugin: { [weak self] in
                        self?.state.withLock { _ = $0.inFlight.removeValue(forKey: id) }
                        sender.send(.cancel(call: id))
                    }))
            state.withLock { $0.inFlight[id] = call.handler }
            call.cancellation?.onCancel { registry.cancel(id) }
            if !sender.send(.invoke(call: id, handler: call.handler, owner: call.owner, input: call.input)) {
                // The worker died under us; its exit handler fails the call (if it has not yet).
                registry.finish(id, with: .unavailable("plugin '\(plugin)' crashed"))
            }
        }
    }

    public func retire() async {
        await gate.close()
        let worker = state.withLock { state -> Worker? in
            state.retired = true
            state.ready = false
            for waiter in state.waiting.values { waiter.resume(returning: false) }
            state.waiting = [:]
            return state.worker
        }
        guard let worker else { return }
        worker.closeInput()
        for _ in 0..<100 where worker.process.isRunning {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if worker.process.isRunning { kill(worker.process.processIdentifier, SIGKILL) }
    }

    // MARK: Worker lifecycle

    /// Waits for a ready worker, at most `limit` (and never more than 10 s).
    private func readyWorker(within limit: Duration) async -> Worker? {
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

    /// Starts a worker process and creates the plugin in it. Returns a reason on failure.
    /// - Parameter accept: vets the library the worker describes; false stops the worker.
    private func launch(accept: (_ name: String, _ version: String, _ handlers: [String]) -> Bool = { _, _, _ in true }) async -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["plugin-worker", "--library", libraryPath, "--plugin", plugin]
        var environment = ProcessInfo.processInfo.environment
        // A crash writes the crashed thread's symbolicated backtrace to stderr, which comes here:
        // its calls fail at the first line, and the backtrace (a second or more) goes to the log.
        environment["SWIFT_BACKTRACE"] = "enable=yes,interactive=no,color=no,threads=crashed,registers=none,images=none,symbolicate=fast"
        process.environment = environment
        let toWorker = Pipe()
        let fromWorker = Pipe()
        let errors = Pipe()
        process.standardInput = toWorker
        process.standardOutput = fromWorker
        process.standardError = errors
        do {
            try process.run()
        } catch {
            return "cannot start the plugin worker \(executable): \(error.localizedDescription)"
        }
        // Only the worker writes there: with the host's copy open, the relay would never see the end.
        try? errors.fileHandleForWriting.close()
        let input = dup(toWorker.fileHandleForWriting.fileDescriptor)
        let output = dup(fromWorker.fileHandleForReading.fileDescriptor)
        try? toWorker.fileHandleForWriting.close()
        try? fromWorker.fileHandleForReading.close()
        let worker = Worker(process: process, input: input)
        relayErrors(from: errors.fileHandleForReading, of: worker)
        let reader = FrameChannel(descriptor: output)
        func abandon(_ reason: String) -> String {
            close(output)
            worker.closeInput()
            process.waitUntilExit()
            return reason
        }
        switch await Self.nextFrame(from: reader) {
        case .described(let name, let version, let handlers)?:
            guard accept(name, version, handlers) else { return abandon("refused by the manifest check") }
        case .created(_, let message)?:
            return abandon(message)
        default:
            return abandon("the plugin worker exited while starting (\(Self.describe(process)))")
        }
        worker.sender.send(.create(config: config))
        switch await Self.nextFrame(from: reader) {
        case .created(PB_OK, _)?:
            break
        case .created(let status, let message)?:
            return abandon("plugin init failed in the worker (create returned \(status)): \(message)")
        default:
            _ = abandon("")
            return "the plugin worker exited while starting (\(Self.describe(process)))"
        }
        state.withLock { state in
            state.worker = worker
            state.ready = true
        }
        wakeWaiters(ready: true)
        let thread = Thread { [weak self] in
            while let frame = reader.read() {
                self?.receive(frame, from: worker)
            }
            close(output)
            worker.process.waitUntilExit()
            self?.workerExited(worker)
        }
        thread.name = "plugboard-worker-\(plugin)"
        thread.start()
        return nil
    }

    /// Forwards the worker's stderr (a fatalError message, a crash backtrace) to the log, and
    /// fails the worker's calls as soon as it says it crashed.
    private func relayErrors(from handle: FileHandle, of worker: Worker) {
        let thread = Thread { [weak self, logger, plugin] in
            var pending = Data()
            var report: [String] = []
            func flush() {
                guard !report.isEmpty else { return }
                logger.error("plugin worker wrote to stderr:\n\(report.joined(separator: "\n"))", metadata: ["plugin": "\(plugin)"])
                report = []
            }
            var reported = false
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                // "*** Signal 11: Backtracing from 0x... done ***": the line ends only once the
                // backtrace is written, so the crash is recognised from the line's start.
                if !reported, let number = Self.crashSignal(in: pending) {
                    reported = true
                    self?.crashed(worker, reason: "killed by signal \(number)" + (Self.signalNames[number].map { ", \($0)" } ?? ""))
                }
                while let newline = pending.firstIndex(of: 0x0A) {
                    report.append(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                    pending.removeSubrange(pending.startIndex...newline)
                    if report.count >= 200 { flush() }
                }
            }
            if !pending.isEmpty { report.append(String(decoding: pending, as: UTF8.self)) }
            flush()
            try? handle.close()
        }
        thread.name = "plugboard-worker-stderr-\(plugin)"
        thread.start()
    }

    /// The worker is crashing (its backtracer has started): fail its calls now rather than once
    /// it exits; the exit restarts it as usual.
    private func crashed(_ worker: Worker, reason: String) {
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

    /// The signal of the Swift backtracer's "*** Signal N:" line starting anywhere in `output`.
    static func crashSignal(in output: Data) -> Int32? {
        let text = String(decoding: output, as: UTF8.self)
        guard let start = text.range(of: "*** Signal ") else { return nil }
        let rest = text[start.upperBound...]
        let digits = rest.prefix { $0.isNumber }
        guard !digits.isEmpty, rest.dropFirst(digits.count).first == ":" else { return nil }
        return Int32(digits)
    }

    static let signalNames: [Int32: String] = [
        SIGSEGV: "SIGSEGV", SIGBUS: "SIGBUS", SIGABRT: "SIGABRT", SIGILL: "SIGILL", SIGFPE: "SIGFPE", SIGKILL: "SIGKILL", SIGTRAP: "SIGTRAP",
    ]

    /// Reads one frame on a thread of its own (reading blocks).
    private static func nextFrame(from reader: FrameChannel) async -> WorkerFrame? {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: reader.read()) }.start()
        }
    }

    private func receive(_ frame: WorkerFrame, from worker: Worker) {
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
    private func workerExited(_ worker: Worker) {
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
        let reason = Self.describe(worker.process)
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
            if let failure = await launch() {
                logger.error("plugin worker failed to restart: \(failure)", metadata: ["plugin": "\(plugin)"])
                workerFailedToStart()
            } else {
                state.withLock { $0.restarts += 1 }
            }
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
            if await launch() == nil { state.withLock { $0.restarts += 1 } } else { workerFailedToStart() }
        }
    }

    private static func describe(_ process: Process) -> String {
        guard !process.isRunning else { return "still running" }
        switch process.terminationReason {
        case .uncaughtSignal:
            return "killed by signal \(process.terminationStatus)" + (signalNames[process.terminationStatus].map { ", \($0)" } ?? "")
        case .exit: return "exited with status \(process.terminationStatus)"
        @unknown default: return "ended"
        }
    }
}
