import CPlugboard
import Foundation
import Glibc
import Logging
import Synchronization

/// One running `plugboard plugin-worker` child process: started, its library described and its
/// plugin created, then read on a thread of its own until it exits. What its frames mean, and
/// whether to start another, is `WorkerPlugin`'s business.
final class WorkerProcess: Sendable {
    /// What the process reports once it runs; each is called on one of its threads.
    struct Events: Sendable {
        /// A frame other than the start-up handshake.
        var frame: @Sendable (WorkerFrame, WorkerProcess) -> Void
        /// The Swift backtracer has started writing: the process is crashing (the reason says how).
        var crashing: @Sendable (WorkerProcess, String) -> Void
        /// The process has exited and its output is read to the end.
        var exited: @Sendable (WorkerProcess) -> Void
    }

    let sender: FrameSender
    let startedAt = ContinuousClock.now
    private let process: Process
    private let input: Int32
    private let output: Int32
    private let inputClosed = Atomic<Bool>(false)
    private let plugin: String
    private let events: Events

    private init(process: Process, input: Int32, output: Int32, plugin: String, events: Events) {
        self.process = process
        self.input = input
        self.output = output
        self.plugin = plugin
        self.events = events
        self.sender = FrameSender(descriptor: input)
    }

    /// Starts a worker for `library`, lets `accept` vet what it describes and creates the plugin
    /// with `config`. Its frames reach `events` once `listen()` is called.
    static func start(
        executable: String, library: String, plugin: String, config: [UInt8], logger: Logger,
        accept: (_ name: String, _ version: String, _ handlers: [String]) -> Bool, events: Events
    ) async throws(LoadFailure) -> WorkerProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["plugin-worker", "--library", library, "--plugin", plugin]
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
            throw LoadFailure("cannot start the plugin worker \(executable): \(error.localizedDescription)")
        }
        // Only the worker writes there: with the host's copy open, the relay would never see the end.
        try? errors.fileHandleForWriting.close()
        let input = dup(toWorker.fileHandleForWriting.fileDescriptor)
        let output = dup(fromWorker.fileHandleForReading.fileDescriptor)
        try? toWorker.fileHandleForWriting.close()
        try? fromWorker.fileHandleForReading.close()
        let worker = WorkerProcess(process: process, input: input, output: output, plugin: plugin, events: events)
        worker.relayErrors(from: errors.fileHandleForReading, logger: logger)
        let reader = FrameChannel(descriptor: output)
        /// Ends a start that went wrong; without a reason, the reason is how the process ended.
        func abandon(_ reason: String?) -> LoadFailure {
            close(output)
            worker.closeInput()
            process.waitUntilExit()
            return LoadFailure(reason ?? "the plugin worker exited while starting (\(worker.ending))")
        }
        switch await nextFrame(from: reader) {
        case .described(let name, let version, let handlers)?:
            guard accept(name, version, handlers) else { throw abandon("refused by the manifest check") }
        case .created(_, let message)?:
            throw abandon(message)
        default:
            throw abandon(nil)
        }
        worker.sender.send(.create(config: config))
        switch await nextFrame(from: reader) {
        case .created(PB_OK, _)?:
            break
        case .created(let status, let message)?:
            throw abandon("plugin init failed in the worker (create returned \(status)): \(message)")
        default:
            throw abandon(nil)
        }
        return worker
    }

    /// Reads the worker's frames, on a thread of its own, until it exits. Called once the worker
    /// is in place, so that its exit always finds it there.
    func listen() {
        let thread = Thread { [self] in
            let reader = FrameChannel(descriptor: output)
            while let frame = reader.read() { events.frame(frame, self) }
            close(output)
            process.waitUntilExit()
            events.exited(self)
        }
        thread.name = "plugboard-worker-\(plugin)"
        thread.start()
    }

    /// Ends the worker's input (it then destroys the instance and exits). Retirement and the
    /// exit handler both get here; the descriptor is closed once, or a second close could
    /// hit a descriptor the process has reused meanwhile.
    func closeInput() {
        if inputClosed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged {
            close(input)
        }
    }

    /// Asks the worker to end (its input closes), and kills it if it has not within two seconds.
    func stop() async {
        closeInput()
        for _ in 0..<100 where process.isRunning {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// How the process ended, in words: "killed by signal 11, SIGSEGV".
    var ending: String {
        guard !process.isRunning else { return "still running" }
        switch process.terminationReason {
        case .uncaughtSignal:
            return "killed by signal \(process.terminationStatus)" + (Self.signalNames[process.terminationStatus].map { ", \($0)" } ?? "")
        case .exit: return "exited with status \(process.terminationStatus)"
        @unknown default: return "ended"
        }
    }

    /// Forwards the worker's stderr (a fatalError message, a crash backtrace) to the log, and
    /// reports the crash as soon as the backtracer starts.
    private func relayErrors(from handle: FileHandle, logger: Logger) {
        let thread = Thread { [weak self, plugin, crashing = events.crashing] in
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
                if !reported, let number = Self.crashSignal(in: pending), let self {
                    reported = true
                    crashing(self, "killed by signal \(number)" + (Self.signalNames[number].map { ", \($0)" } ?? ""))
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
}
