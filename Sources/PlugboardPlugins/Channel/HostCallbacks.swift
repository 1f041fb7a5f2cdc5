import CPlugboard
import Logging
import PlugboardContracts
import PlugboardMCP

/// What the host's C callbacks need to know about the plugin instance they serve. Passed to the
/// plugin as `host_ctx` and kept alive until the instance is destroyed.
final class HostContext: Sendable {
    let instance: PluginInstance
    let registry: CallRegistry
    let data: any DataService
    let logger: Logger

    init(instance: PluginInstance, registry: CallRegistry, data: any DataService, logger: Logger) {
        self.instance = instance
        self.registry = registry
        self.data = data
        self.logger = logger
    }

    static func from(_ raw: UnsafeMutableRawPointer?) -> HostContext? {
        raw.map { Unmanaged<HostContext>.fromOpaque($0).takeUnretainedValue() }
    }
}

/// The host side of `pb_host_api`. Every callback may arrive on any thread and only looks at
/// the call id, and only at calls given to the instance calling back, so a plugin that misuses one
/// cannot corrupt the host or act on another plugin's calls.
enum HostCallbacks {
    static func table(for context: UnsafeMutableRawPointer) -> pb_host_api {
        pb_host_api(
            struct_size: UInt32(MemoryLayout<pb_host_api>.size),
            abi_major: UInt16(PLUGBOARD_ABI_MAJOR),
            abi_minor: UInt16(PLUGBOARD_ABI_MINOR),
            host_ctx: context,
            log: log,
            progress: progress,
            is_cancelled: isCancelled,
            owner: owner,
            query: query,
            complete: complete
        )
    }

    static func text(_ pointer: UnsafePointer<CChar>?, _ length: Int) -> String {
        guard let pointer, length > 0 else { return "" }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }

    static let log: @convention(c) (UnsafeMutableRawPointer?, UInt64, Int32, UnsafePointer<CChar>?, Int) -> Void = {
        raw, call, level, message, length in
        guard let context = HostContext.from(raw) else { return }
        let logLevel: Logger.Level =
            switch level {
            case PB_LOG_DEBUG: .debug
            case PB_LOG_WARNING: .warning
            case PB_LOG_ERROR: .error
            default: .info
            }
        var metadata: Logger.Metadata = ["plugin": "\(context.instance.plugin)"]
        if call != 0 { metadata["call"] = "\(call)" }
        context.logger.log(level: logLevel, "\(text(message, length))", metadata: metadata)
    }

    static let progress: @convention(c) (UnsafeMutableRawPointer?, UInt64, Double, Double, UnsafePointer<CChar>?, Int) -> Void = {
        raw, call, value, total, message, length in
        guard let context = HostContext.from(raw), value.isFinite else { return }
        context.registry.progress(
            call,
            ProgressUpdate(progress: value, total: total >= 0 && total.isFinite ? total : nil, message: message == nil ? nil : text(message, length)),
            from: context.instance)
    }

    static let isCancelled: @convention(c) (UnsafeMutableRawPointer?, UInt64) -> Int32 = { raw, call in
        guard let context = HostContext.from(raw) else { return 1 }
        return context.registry.isInFlight(call, for: context.instance) ? 0 : 1
    }

    static let owner: @convention(c) (UnsafeMutableRawPointer?, UInt64, UnsafeMutablePointer<CChar>?, Int) -> Int = {
        raw, call, buffer, capacity in
        guard let context = HostContext.from(raw), let owner = context.registry.owner(of: call, for: context.instance) else { return 0 }
        let bytes = Array(owner.utf8)
        guard bytes.count <= capacity, let buffer else { return bytes.count }
        for (offset, byte) in bytes.enumerated() { buffer[offset] = CChar(bitPattern: byte) }
        return bytes.count
    }

    static let query: @convention(c) (
        UnsafeMutableRawPointer?, UInt64, UnsafePointer<UInt8>?, Int, pb_query_done_fn?, UnsafeMutableRawPointer?
    ) -> Void = { raw, call, request, length, done, doneContext in
        guard let done else { return }
        guard let context = HostContext.from(raw) else {
            done(doneContext, PB_INTERNAL_ERROR, nil, 0)
            return
        }
        guard let (owner, scope, meter) = context.registry.queryContext(of: call, for: context.instance) else {
            let message = Array("query for a call that is not in flight".utf8)
            message.withUnsafeBufferPointer { done(doneContext, PB_INVALID_ARGUMENTS, $0.baseAddress, $0.count) }
            return
        }
        let input = request.map { Array(UnsafeBufferPointer(start: $0, count: length)) } ?? []
        let completion = QueryCompletion(done: done, context: doneContext)
        Task {
            let reply = await context.data.query(input, scope: scope, owner: owner)
            meter?.add(rows: reply.rows)
            completion.finish(status: reply.status, bytes: reply.bytes)
        }
    }

    static let complete: @convention(c) (UnsafeMutableRawPointer?, UInt64, Int32, UnsafePointer<UInt8>?, Int) -> Void = {
        raw, call, status, bytes, length in
        guard let context = HostContext.from(raw) else { return }
        let copy = bytes.map { Array(UnsafeBufferPointer(start: $0, count: length)) } ?? []
        context.registry.complete(call, status: status, bytes: copy, from: context.instance)
    }
}

/// A plugin's query completion, carried to the task that runs the query.
private struct QueryCompletion: @unchecked Sendable {
    // The plugin guarantees `context` stays valid until `done` is called, exactly once, here.
    let done: pb_query_done_fn
    let context: UnsafeMutableRawPointer?

    func finish(status: Int32, bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { done(context, status, $0.baseAddress, $0.count) }
    }
}
