import Glibc
import Synchronization

/// The messages between the host and a `plugboard plugin-worker` process: the C ABI's calls and
/// callbacks, one length-prefixed binary frame each, over the worker's stdin and stdout.
enum WorkerFrame: Equatable {
    // Host to worker.
    case create(config: [UInt8])
    case invoke(call: UInt64, handler: String, owner: String, input: [UInt8])
    case cancel(call: UInt64)
    case queryResult(query: UInt64, status: Int32, bytes: [UInt8])
    // Worker to host.
    /// The library's descriptor, sent once the worker has mapped and checked it.
    case described(name: String, version: String, handlers: [String])
    case created(status: Int32, message: String)
    case complete(call: UInt64, status: Int32, bytes: [UInt8])
    case progress(call: UInt64, progress: Double, total: Double, message: [UInt8]?)
    case log(call: UInt64, level: Int32, message: [UInt8])
    case query(call: UInt64, query: UInt64, request: [UInt8])

    /// `[u32 length][u8 kind][fields]`, little-endian.
    func encoded() -> [UInt8] {
        var body = FrameWriter()
        switch self {
        case .create(let config):
            body.byte(1); body.bytes(config)
        case .invoke(let call, let handler, let owner, let input):
            body.byte(2); body.u64(call); body.bytes(Array(handler.utf8)); body.bytes(Array(owner.utf8)); body.bytes(input)
        case .cancel(let call):
            body.byte(3); body.u64(call)
        case .queryResult(let query, let status, let bytes):
            body.byte(4); body.u64(query); body.i32(status); body.bytes(bytes)
        case .described(let name, let version, let handlers):
            body.byte(15); body.bytes(Array(name.utf8)); body.bytes(Array(version.utf8))
            body.u32(UInt32(handlers.count))
            for handler in handlers { body.bytes(Array(handler.utf8)) }
        case .created(let status, let message):
            body.byte(10); body.i32(status); body.bytes(Array(message.utf8))
        case .complete(let call, let status, let bytes):
            body.byte(11); body.u64(call); body.i32(status); body.bytes(bytes)
        case .progress(let call, let progress, let total, let message):
            body.byte(12); body.u64(call); body.u64(progress.bitPattern); body.u64(total.bitPattern)
            body.byte(message == nil ? 0 : 1); body.bytes(message ?? [])
        case .log(let call, let level, let message):
            body.byte(13); body.u64(call); body.i32(level); body.bytes(message)
        case .query(let call, let query, let request):
            body.byte(14); body.u64(call); body.u64(query); body.bytes(request)
        }
        var frame = FrameWriter()
        frame.u32(UInt32(body.output.count))
        return frame.output + body.output
    }

    /// Decodes one frame body (without its length prefix); nil for anything malformed.
    init?(body: [UInt8]) {
        var reader = FrameReader(body)
        guard let kind = reader.byte() else { return nil }
        switch kind {
        case 1:
            guard let config = reader.bytes() else { return nil }
            self = .create(config: config)
        case 2:
            guard let call = reader.u64(), let handler = reader.bytes(), let owner = reader.bytes(), let input = reader.bytes() else { return nil }
            self = .invoke(call: call, handler: String(decoding: handler, as: UTF8.self), owner: String(decoding: owner, as: UTF8.self), input: input)
        case 3:
            guard let call = reader.u64() else { return nil }
            self = .cancel(call: call)
        case 4:
            guard let query = reader.u64(), let status = reader.i32(), let bytes = reader.bytes() else { return nil }
            self = .queryResult(query: query, status: status, bytes: bytes)
        case 15:
            guard let name = reader.bytes(), let version = reader.bytes(), let count = reader.u32(), count <= 100_000 else { return nil }
            var handlers: [String] = []
            for _ in 0..<count {
                guard let handler = reader.bytes() else { return nil }
                handlers.append(String(decoding: handler, as: UTF8.self))
            }
            self = .described(name: String(decoding: name, as: UTF8.self), version: String(decoding: version, as: UTF8.self), handlers: handlers)
        case 10:
            guard let status = reader.i32(), let message = reader.bytes() else { return nil }
            self = .created(status: status, message: String(decoding: message, as: UTF8.self))
        case 11:
            guard let call = reader.u64(), let status = reader.i32(), let bytes = reader.bytes() else { return nil }
            self = .complete(call: call, status: status, bytes: bytes)
        case 12:
            guard let call = reader.u64(), let progress = reader.u64(), let total = reader.u64(), let hasMessage = reader.byte(),
                let message = reader.bytes()
            else { return nil }
            self = .progress(call: call, progress: Double(bitPattern: progress), total: Double(bitPattern: total), message: hasMessage == 1 ? message : nil)
        case 13:
            guard let call = reader.u64(), let level = reader.i32(), let message = reader.bytes() else { return nil }
            self = .log(call: call, level: level, message: message)
        case 14:
            guard let call = reader.u64(), let query = reader.u64(), let request = reader.bytes() else { return nil }
            self = .query(call: call, query: query, request: request)
        default:
            return nil
        }
    }
}

struct FrameWriter {
    var output: [UInt8] = []

    mutating func byte(_ value: UInt8) { output.append(value) }
    mutating func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { output += $0 } }
    mutating func u64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { output += $0 } }
    mutating func i32(_ value: Int32) { u32(UInt32(bitPattern: value)) }
    mutating func bytes(_ value: [UInt8]) {
        u32(UInt32(value.count))
        output += value
    }
}

struct FrameReader {
    private let input: [UInt8]
    private var offset = 0

    init(_ input: [UInt8]) { self.input = input }

    mutating func byte() -> UInt8? {
        guard offset < input.count else { return nil }
        defer { offset += 1 }
        return input[offset]
    }

    mutating func u32() -> UInt32? {
        guard offset + 4 <= input.count else { return nil }
        defer { offset += 4 }
        return (0..<4).reduce(UInt32(0)) { $0 | UInt32(input[offset + $1]) << (8 * UInt32($1)) }
    }

    mutating func u64() -> UInt64? {
        guard offset + 8 <= input.count else { return nil }
        defer { offset += 8 }
        return (0..<8).reduce(UInt64(0)) { $0 | UInt64(input[offset + $1]) << (8 * UInt64($1)) }
    }

    mutating func i32() -> Int32? { u32().map { Int32(bitPattern: $0) } }

    mutating func bytes() -> [UInt8]? {
        guard let count = u32().map(Int.init), offset + count <= input.count else { return nil }
        defer { offset += count }
        return Array(input[offset..<offset + count])
    }
}

/// Blocking frame I/O on a file descriptor (a pipe end).
struct FrameChannel: Sendable {
    let descriptor: Int32

    /// The next frame, or nil at end of input or on a malformed frame.
    func read() -> WorkerFrame? {
        guard let header = readExactly(4) else { return nil }
        var reader = FrameReader(header)
        guard let length = reader.u32(), length <= 512 * 1_048_576, let body = readExactly(Int(length)) else { return nil }
        return WorkerFrame(body: body)
    }

    /// Writes a whole frame; false if the other side is gone.
    @discardableResult
    func write(_ frame: WorkerFrame) -> Bool {
        let bytes = frame.encoded()
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return false }
            written += count
        }
        return true
    }

    private func readExactly(_ count: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let got = buffer[filled...].withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if got < 0, errno == EINTR { continue }
            guard got > 0 else { return nil }
            filled += got
        }
        return buffer
    }
}

/// Sends frames from any thread, one whole frame at a time.
final class FrameSender: Sendable {
    private let channel: FrameChannel
    private let lock = Mutex(())

    init(descriptor: Int32) {
        self.channel = FrameChannel(descriptor: descriptor)
    }

    @discardableResult
    func send(_ frame: WorkerFrame) -> Bool {
        lock.withLock { _ in channel.write(frame) }
    }
}
