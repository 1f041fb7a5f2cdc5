/// The host's callback table, wrapped so no handler ever touches a pointer.
struct HostAPI: @unchecked Sendable {
    // The table is copied at create time and the host keeps `host_ctx` valid until destroy, so
    // sharing this value across tasks is safe.
    private let table: pb_host_api

    init(_ table: pb_host_api) {
        self.table = table
    }

    /// True when the host's table is at least as new as the field at `offset` needs.
    private func has(_ keyPath: PartialKeyPath<pb_host_api>) -> Bool {
        guard let offset = MemoryLayout<pb_host_api>.offset(of: keyPath) else { return false }
        return Int(table.struct_size) >= offset + MemoryLayout<UnsafeRawPointer>.size
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
        guard has(\.progress) else { return }
        var text = message ?? ""
        text.withUTF8 { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                table.progress?(table.host_ctx, call, completed, total ?? -1, message == nil ? nil : chars.baseAddress, chars.count)
            }
        }
    }

    func isCancelled(_ call: UInt64) -> Bool {
        guard has(\.is_cancelled) else { return false }
        return (table.is_cancelled?(table.host_ctx, call) ?? 0) != 0
    }

    func owner(of call: UInt64) -> String {
        guard has(\.owner), let owner = table.owner else { return "" }
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
        guard has(\.query), let query = table.query else {
            return PluginReply(status: PB_UNAVAILABLE, text: "this host does not offer scoped queries")
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
