/// The host's callback table, wrapped so no handler ever touches a pointer.
struct HostAPI: @unchecked Sendable {
    // The table is copied at create time and the host keeps `host_ctx` valid until destroy, so
    // sharing this value across tasks is safe.
    private let table: pb_host_api

    /// Copies the host's table as far as its own `struct_size` says, never further: an older host
    /// hands a shorter table than this SDK's header describes, and the bytes past its end are not
    /// the host's. Fields the host's table does not cover stay zero, so a callback it lacks is nil.
    /// Returns a reason the plugin cannot run on this host when the table is unusable.
    static func read(_ host: UnsafePointer<pb_host_api>) -> Result<HostAPI, HostTableError> {
        let raw = UnsafeRawPointer(host)
        // Every ABI structure starts with its size, so these 4 bytes are the one thing readable
        // before the size is known.
        let given = Int(raw.loadUnaligned(as: UInt32.self))
        let header = (MemoryLayout<pb_host_api>.offset(of: \pb_host_api.abi_minor) ?? 6) + MemoryLayout<UInt16>.size
        guard given >= header else {
            return .failure(HostTableError("the host's callback table says it is \(given) bytes, too small to be a plugin ABI table"))
        }
        var table = pb_host_api()
        withUnsafeMutableBytes(of: &table) { copy in
            copy.copyMemory(from: UnsafeRawBufferPointer(start: raw, count: min(given, MemoryLayout<pb_host_api>.size)))
        }
        // A field only partly covered by the host's size was copied in part: clear it whole.
        func covers(_ field: PartialKeyPath<pb_host_api>) -> Bool {
            guard let offset = MemoryLayout<pb_host_api>.offset(of: field) else { return false }
            return given >= offset + MemoryLayout<UnsafeRawPointer>.size
        }
        if !covers(\.host_ctx) { table.host_ctx = nil }
        if !covers(\.log) { table.log = nil }
        if !covers(\.progress) { table.progress = nil }
        if !covers(\.is_cancelled) { table.is_cancelled = nil }
        if !covers(\.owner) { table.owner = nil }
        if !covers(\.query) { table.query = nil }
        if !covers(\.complete) { table.complete = nil }
        guard Int(table.abi_major) == Int(PLUGBOARD_ABI_MAJOR) else {
            return .failure(
                HostTableError(
                    "the host speaks plugin ABI \(table.abi_major), this plugin was built for ABI \(PLUGBOARD_ABI_MAJOR); "
                        + "rebuild it against the host's PlugboardKit"))
        }
        guard table.complete != nil else {
            return .failure(
                HostTableError(
                    "the host's callback table (\(given) bytes, ABI \(table.abi_major).\(table.abi_minor)) has no `complete` "
                        + "callback, without which no call can finish; this plugin needs a host speaking plugin ABI "
                        + "\(PLUGBOARD_ABI_MAJOR).0 or later"))
        }
        return .success(HostAPI(table))
    }

    private init(_ table: pb_host_api) {
        self.table = table
    }

    func complete(_ call: UInt64, _ reply: PluginReply) {
        reply.bytes.withUnsafeBufferPointer { buffer in
            table.complete?(table.host_ctx, call, reply.status, buffer.baseAddress, buffer.count)
        }
    }

    func log(_ call: UInt64, level: LogLevel, message: String) {
        var message = message
        message.withUTF8 { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                table.log?(table.host_ctx, call, level.rawValue, chars.baseAddress, chars.count)
            }
        }
    }

    func progress(_ call: UInt64, completed: Double, total: Double?, message: String?) {
        var text = message ?? ""
        text.withUTF8 { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                table.progress?(table.host_ctx, call, completed, total ?? -1, message == nil ? nil : chars.baseAddress, chars.count)
            }
        }
    }

    func isCancelled(_ call: UInt64) -> Bool {
        return (table.is_cancelled?(table.host_ctx, call) ?? 0) != 0
    }

    func owner(of call: UInt64) -> String {
        guard let owner = table.owner else { return "" }
        var capacity = 128
        while true {
            var buffer = [CChar](repeating: 0, count: capacity)
            let length = owner(table.host_ctx, call, &buffer, capacity)
            if length <= capacity {
                return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
            capacity = length
        }
    }

    func query(_ call: UInt64, request: [UInt8]) async -> PluginReply {
        guard let query = table.query else {
            return PluginReply(status: PB_UNAVAILABLE, text: "this host's callback table has no query callback, so scoped queries are unavailable")
        }
        let context = table.host_ctx
        return await withCheckedContinuation { continuation in
            let box = Unmanaged.passRetained(ReplyBox(continuation)).toOpaque()
            request.withUnsafeBufferPointer { buffer in
                query(context, call, buffer.baseAddress, buffer.count, { box, status, bytes, count in
                    guard let box else { return }
                    let reply = PluginReply(status: status, bytes: Array(UnsafeBufferPointer(start: bytes, count: count)))
                    Unmanaged<ReplyBox>.fromOpaque(box).takeRetainedValue().continuation.resume(returning: reply)
                }, box)
            }
        }
    }
}

/// Carries a continuation through a C `void *` context.
private final class ReplyBox {
    let continuation: CheckedContinuation<PluginReply, Never>
    init(_ continuation: CheckedContinuation<PluginReply, Never>) { self.continuation = continuation }
}

/// Why a plugin cannot use the host's callback table; returned from `create` for the host to log.
struct HostTableError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
