import CPlugboard
import Foundation
import PlugboardPlugins
import Synchronization
import Testing

/// PlugboardKit reads the host's callback table by the table's own `struct_size`, never by the
/// size of the `pb_host_api` it was compiled with: an older host hands a shorter table. These
/// tests play that host against a real Swift plugin (the demo example), with the table placed so
/// that its last byte touches an inaccessible page.
@Suite("Host callback table read by its size")
struct HostTableTests {
    static let completeOffset = MemoryLayout<pb_host_api>.offset(of: \pb_host_api.complete) ?? 0

    @Test("a host table shorter than the SDK's, ending at an unreadable page, is read only as far as its size")
    func shortTableAtGuardPage() throws {
        // A table of an imaginary older host that ends before `complete`: nothing past it exists.
        let host = StandInHost()
        let memory = try #require(GuardedBytes(size: Self.completeOffset))
        var table = host.table(size: Self.completeOffset)
        withUnsafeBytes(of: &table) { memory.bytes.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0.prefix(Self.completeOffset))) }
        let (status, error, _) = try DemoLibrary.create(memory.start.assumingMemoryBound(to: pb_host_api.self))
        #expect(status == PB_INTERNAL_ERROR)
        #expect(error.contains("has no `complete` callback"), "\(error)")
        #expect(error.contains("\(Self.completeOffset) bytes"), "\(error)")
    }

    @Test("callbacks past the table's size are absent even when the memory after it holds pointers")
    func fieldsPastTheSizeAreIgnored() throws {
        let host = StandInHost()
        var table = host.table(size: Self.completeOffset)
        #expect(table.complete != nil)
        let (status, error, _) = try withUnsafePointer(to: &table) { try DemoLibrary.create($0) }
        #expect(status == PB_INTERNAL_ERROR, "the plugin used a `complete` its host's table does not cover")
        #expect(error.contains("has no `complete` callback"), "\(error)")
    }

    @Test("a table too small for its own header is refused with its size")
    func tableSmallerThanItsHeader() throws {
        let memory = try #require(GuardedBytes(size: 4))
        memory.start.storeBytes(of: UInt32(4), as: UInt32.self)
        let (status, error, _) = try DemoLibrary.create(memory.start.assumingMemoryBound(to: pb_host_api.self))
        #expect(status == PB_INTERNAL_ERROR)
        #expect(error.contains("says it is 4 bytes"), "\(error)")
    }

    @Test("a newer host's longer table works: the fields the SDK knows are used, the rest ignored")
    func longerTable() async throws {
        let host = StandInHost()
        let size = MemoryLayout<pb_host_api>.size + 32
        let memory = try #require(GuardedBytes(size: size))
        memory.start.initializeMemory(as: UInt8.self, repeating: 0xA5, count: size)
        var table = host.table(size: size)
        withUnsafeBytes(of: &table) { UnsafeMutableRawBufferPointer(rebasing: memory.bytes.prefix($0.count)).copyMemory(from: $0) }
        let (status, error, instance) = try DemoLibrary.create(memory.start.assumingMemoryBound(to: pb_host_api.self))
        #expect(status == PB_OK, "\(error)")
        let descriptor = try DemoLibrary.descriptor()
        let arguments = Array(#"{"text":"hello"}"#.utf8)
        arguments.withUnsafeBufferPointer { descriptor.invoke(instance, 7, "demo.echo", $0.baseAddress, $0.count) }
        #expect(await eventually { host.replies.withLock { !$0.isEmpty } })
        let reply = host.replies.withLock { $0.first }
        #expect(reply?.call == 7 && reply?.status == PB_OK, "\(String(describing: reply))")
        #expect(reply?.text.contains("hello") == true, "\(String(describing: reply))")
        descriptor.destroy(instance)
    }
}

/// PlugboardKit fills in the ABI 1.1 field the host names in a toolchain refusal.
@Test("a PlugboardKit plugin's descriptor names the Swift that built it, as the host says its own")
func descriptorSwiftVersion() throws {
    let descriptor = try DemoLibrary.descriptor()
    #expect(descriptor.abi_minor >= 1 && Int(descriptor.struct_size) == MemoryLayout<pb_plugin>.size)
    let version = try #require(descriptor.swift_version.map { String(cString: $0) })
    #expect(version == PluginLibrary.hostSwiftVersion)
}

/// The demo plugin's library, opened directly (never closed: Swift images cannot be unloaded).
enum DemoLibrary {
    static func descriptor() throws -> pb_plugin {
        let handle = try #require(dlopen(TestSupport.library("demo"), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE))
        let symbol = try #require(dlsym(handle, PLUGBOARD_ENTRY_SYMBOL))
        let descriptor = try #require(unsafeBitCast(symbol, to: pb_entry_fn.self)())
        return descriptor.pointee
    }

    /// Calls the plugin's `create` with `host`; returns its status, its error text and the instance.
    static func create(_ host: UnsafePointer<pb_host_api>) throws -> (Int32, String, UnsafeMutableRawPointer?) {
        let descriptor = try descriptor()
        let create = try #require(descriptor.create)
        var instance: UnsafeMutableRawPointer?
        var error = [CChar](repeating: 0, count: 512)
        let config = Array("{}".utf8)
        let status = config.withUnsafeBufferPointer { create(host, $0.baseAddress, $0.count, &instance, &error, error.count) }
        let text = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return (status, text, instance)
    }
}

/// A host that only records what the plugin completes.
final class StandInHost: Sendable {
    struct Reply: Sendable {
        let call: UInt64
        let status: Int32
        let text: String
    }

    let replies = Mutex<[Reply]>([])

    /// A complete table with every callback set, whose `struct_size` says `size`. The host context
    /// is this object, kept alive by the test.
    func table(size: Int) -> pb_host_api {
        pb_host_api(
            struct_size: UInt32(size), abi_major: UInt16(PLUGBOARD_ABI_MAJOR), abi_minor: UInt16(PLUGBOARD_ABI_MINOR),
            host_ctx: Unmanaged.passUnretained(self).toOpaque(),
            log: { _, _, _, _, _ in },
            progress: { _, _, _, _, _, _ in },
            is_cancelled: { _, _ in 0 },
            owner: { _, _, _, _ in 0 },
            query: { _, _, _, _, done, context in done?(context, PB_UNAVAILABLE, nil, 0) },
            complete: { context, call, status, bytes, length in
                guard let context else { return }
                let host = Unmanaged<StandInHost>.fromOpaque(context).takeUnretainedValue()
                let text = bytes.map { String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self) } ?? ""
                host.replies.withLock { $0.append(Reply(call: call, status: status, text: text)) }
            })
    }
}

/// `size` writable bytes whose last one is followed by an inaccessible page, so reading even one
/// byte past them faults instead of silently reading whatever lies there.
final class GuardedBytes {
    let start: UnsafeMutableRawPointer
    let count: Int
    var bytes: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: start, count: count) }
    private let mapping: UnsafeMutableRawPointer
    private let length: Int

    init?(size: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let pages = (size + page - 1) / page + 1
        length = pages * page
        guard let map = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), map != MAP_FAILED else { return nil }
        mapping = map
        let guardPage = map + (pages - 1) * page
        guard mprotect(guardPage, page, PROT_NONE) == 0 else {
            munmap(map, length)
            return nil
        }
        start = guardPage - size
        count = size
    }

    deinit {
        munmap(mapping, length)
    }
}
