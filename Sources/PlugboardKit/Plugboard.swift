@_exported import CPlugboard
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The entry point of a Swift plugin library.
///
/// ```swift
/// import PlugboardKit
///
/// @c(plugboard_plugin_v1)
/// public func plugboardPlugin() -> UnsafePointer<pb_plugin> {
///     Plugboard.export(name: "demo", version: "1.0.0") { plugin in
///         plugin.tool("demo.add") { (arguments: AddArguments, call) in
///             .structured(Sum(value: arguments.a + arguments.b))
///         }
///     }
/// }
/// ```
public enum Plugboard {
    /// Builds the plugin's C descriptor from its handlers the first time it is asked for, and
    /// returns the same descriptor afterwards. `define` runs once per loaded library.
    public static func export(
        name: String,
        version: String,
        _ define: (inout PluginDefinition) -> Void
    ) -> UnsafePointer<pb_plugin> {
        exported.withLock { descriptor in
            if let descriptor { return descriptor }
            var definition = PluginDefinition()
            define(&definition)
            PluginRuntime.definition.withLock { $0 = definition }
            let made = makeDescriptor(name: name, version: version, handlers: definition.handlerNames)
            descriptor = made
            return made
        }
    }

    private static let exported = Mutex<UnsafePointer<pb_plugin>?>(nil)

    /// The Swift version compiling this SDK (`__swift__`, seen through the clang importer), in
    /// words, for the host to name in a toolchain refusal.
    /// Nil (the host then says "an unknown Swift version") if the importer did not say.
    private static var swiftVersion: UnsafePointer<CChar>? {
        let number = pb_swift_version_number()
        guard number > 0 else { return nil }
        return UnsafePointer(strdup("\(number / 10000).\(number / 100 % 100).\(number % 100)"))
    }

    /// The descriptor and the strings it points at live as long as the library is mapped, which is
    /// as long as the process: they are allocated once and never freed.
    private static func makeDescriptor(name: String, version: String, handlers: [String]) -> UnsafePointer<pb_plugin> {
        let handlerArray = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: max(handlers.count, 1))
        for (offset, handler) in handlers.enumerated() {
            handlerArray[offset] = UnsafePointer(strdup(handler))
        }
        let descriptor = UnsafeMutablePointer<pb_plugin>.allocate(capacity: 1)
        descriptor.initialize(
            to: pb_plugin(
                struct_size: UInt32(MemoryLayout<pb_plugin>.size),
                abi_major: UInt16(PLUGBOARD_ABI_MAJOR),
                abi_minor: UInt16(PLUGBOARD_ABI_MINOR),
                name: UnsafePointer(strdup(name)),
                version: UnsafePointer(strdup(version)),
                toolchain: pb_toolchain(),
                handlers: UnsafePointer(handlerArray),
                handler_count: handlers.count,
                create: PluginRuntime.create,
                invoke: PluginRuntime.invoke,
                cancel: PluginRuntime.cancel,
                destroy: PluginRuntime.destroy,
                swift_version: swiftVersion
            )
        )
        return UnsafePointer(descriptor)
    }
}
