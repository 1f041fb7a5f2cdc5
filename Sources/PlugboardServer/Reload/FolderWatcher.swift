import Foundation
import Glibc
import Logging
import Synchronization

/// Watches the plugins folder (recursively) and the configuration file with inotify, and reports
/// a change once the files have been quiet for the debounce interval, so a library still being
/// copied is never loaded half-written. Names starting with "." are ignored: drop a file in as
/// `.name.tmp` and rename it into place, and only the rename counts.
final class FolderWatcher: Sendable {
    private let folder: String
    private let configFile: String
    private let debounce: Duration
    private let logger: Logger
    private let stopped = Atomic<Bool>(false)

    init(folder: String, configFile: String, debounce: Duration, logger: Logger) {
        self.folder = folder
        self.configFile = configFile
        self.debounce = debounce
        self.logger = logger
    }

    /// Changes seen and not yet reported, and when the last one happened.
    private let pending = Mutex<(paths: Set<String>, last: ContinuousClock.Instant?)>(([], nil))

    /// Calls `onChange` with the changed paths after each quiet period, until `stop()`.
    func run(onChange: @escaping @Sendable ([String]) async -> Void) async {
        let reader = Thread { [self] in self.readEvents() }
        reader.name = "plugboard-watcher"
        reader.start()
        while !stopped.load(ordering: .relaxed), !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(20))
            let ready = pending.withLock { state -> [String]? in
                guard let last = state.last, ContinuousClock.now - last >= debounce else { return nil }
                defer { state = ([], nil) }
                return state.paths.sorted()
            }
            if let ready { await onChange(ready) }
        }
        stop()
    }

    private func record(_ path: String) {
        pending.withLock { state in
            state.paths.insert(path)
            state.last = ContinuousClock.now
        }
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
    }

    /// The blocking inotify loop, on its own thread.
    private func readEvents() {
        let descriptor = inotify_init1(Int32(IN_CLOEXEC))
        guard descriptor >= 0 else {
            logger.error("cannot watch for changes: inotify_init1 failed (\(String(cString: strerror(errno))))")
            return
        }
        defer { close(descriptor) }
        let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_MODIFY | IN_DELETE_SELF)
        var directories: [Int32: String] = [:]
        func watch(_ directory: String) {
            let wd = inotify_add_watch(descriptor, directory, mask)
            guard wd >= 0 else {
                logger.warning("cannot watch \(directory): \(String(cString: strerror(errno)))")
                return
            }
            directories[wd] = directory
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where !entry.hasPrefix(".") {
                var isDirectory: ObjCBool = false
                let path = "\(directory)/\(entry)"
                if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue { watch(path) }
            }
        }
        watch(folder)
        let configDirectory = URL(fileURLWithPath: configFile).deletingLastPathComponent().path
        let configName = URL(fileURLWithPath: configFile).lastPathComponent
        let configWatch = inotify_add_watch(descriptor, configDirectory, UInt32(IN_CLOSE_WRITE | IN_MOVED_TO))

        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while !stopped.load(ordering: .relaxed) {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 250) > 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { continue }
            var offset = 0
            while offset + MemoryLayout<inotify_event>.size <= count {
                let (wd, eventMask, nameLength) = buffer.withUnsafeBytes { raw in
                    let event = raw.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
                    return (event.wd, event.mask, Int(event.len))
                }
                let nameStart = offset + MemoryLayout<inotify_event>.size
                let nameBytes = buffer[nameStart..<min(nameStart + nameLength, count)].prefix { $0 != 0 }
                let name = String(decoding: nameBytes, as: UTF8.self)
                offset = nameStart + nameLength
                if wd == configWatch {
                    if name == configName { record(configFile) }
                    continue
                }
                guard let directory = directories[wd], !name.hasPrefix(".") else { continue }
                let path = name.isEmpty ? directory : "\(directory)/\(name)"
                if eventMask & UInt32(IN_ISDIR) != 0, eventMask & UInt32(IN_CREATE | IN_MOVED_TO) != 0 { watch(path) }
                record(path)
            }
        }
    }
}
