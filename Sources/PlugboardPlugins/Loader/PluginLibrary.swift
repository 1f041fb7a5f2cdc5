import CPlugboard
import Foundation

/// A plugin library mapped into the host, with its checked descriptor.
///
/// Libraries are opened `RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE` and never unloaded: unloading an
/// image that contains Swift code leaves the Swift runtime pointing into unmapped memory
/// (measured: 11 of 11 runs crashed). `RTLD_NODELETE` also makes a dlclose on an error path harmless.
public final class PluginLibrary: @unchecked Sendable {
    // The handle and descriptor are immutable and valid for the life of the process.
    let handle: UnsafeMutableRawPointer
    let descriptor: UnsafePointer<pb_plugin>
    /// The private copy that was mapped.
    public let path: String
    /// SHA-256 of the library's contents.
    public let digest: String
    /// What the descriptor says about the library.
    public let name: String
    public let version: String
    public let abiMinor: Int
    public let handlers: [String]

    /// The host's own toolchain; a Swift plugin must have been built by the same one.
    public static let hostToolchain = String(cString: pb_toolchain())

    /// The Swift version that built the host, in words ("6.3.1").
    public static let hostSwiftVersion = swiftVersion(pb_swift_version_number())

    /// The plugin ABI this host speaks, "major.minor".
    public static let abiVersion = "\(PLUGBOARD_ABI_MAJOR).\(PLUGBOARD_ABI_MINOR)"

    /// `__swift__`'s encoding (major * 10000 + minor * 100 + patch) in words.
    static func swiftVersion(_ number: Int32) -> String {
        guard number > 0 else { return "an unknown Swift version" }
        return "\(number / 10000).\(number / 100 % 100).\(number % 100)"
    }

    /// The smallest descriptor this host can use: every ABI 1 descriptor has at least these fields.
    static let minimumDescriptorSize = (MemoryLayout<pb_plugin>.offset(of: \pb_plugin.destroy) ?? 0)
        + MemoryLayout<UnsafeRawPointer>.size

    private init(handle: UnsafeMutableRawPointer, descriptor: UnsafePointer<pb_plugin>, path: String, digest: String) {
        self.handle = handle
        self.descriptor = descriptor
        self.path = path
        self.digest = digest
        let pointee = descriptor.pointee
        self.name = pointee.name.map { String(cString: $0) } ?? ""
        self.version = pointee.version.map { String(cString: $0) } ?? ""
        self.abiMinor = Int(pointee.abi_minor)
        var handlers: [String] = []
        if let list = pointee.handlers {
            for index in 0..<pointee.handler_count {
                if let handler = list[index] { handlers.append(String(cString: handler)) }
            }
        }
        self.handlers = handlers
    }

    /// Maps `path` and checks its descriptor before anything in the library is called, apart from
    /// its static constructors and the entry function that returns the descriptor.
    /// - Parameter displayName: how to name the library in messages (the file the user dropped in).
    static func open(path: String, digest: String, displayName: String) throws(LoadFailure) -> PluginLibrary {
        _ = dlerror()
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown error"
            throw LoadFailure("cannot load \(displayName): \(reason.replacingOccurrences(of: path, with: displayName))")
        }
        guard let symbol = dlsym(handle, PLUGBOARD_ENTRY_SYMBOL) else {
            throw LoadFailure(
                "\(displayName) does not export \(PLUGBOARD_ENTRY_SYMBOL)(), so it is not a Plugboard plugin "
                    + "(Swift: @c(plugboard_plugin_v1) returning Plugboard.export(...); C: see plugboard.h)")
        }
        let entry = unsafeBitCast(symbol, to: pb_entry_fn.self)
        guard let descriptor = entry() else {
            throw LoadFailure("\(displayName): \(PLUGBOARD_ENTRY_SYMBOL)() returned NULL")
        }
        // Only the size and the versions are read in place, and field by field: the rest of the
        // descriptor is read by its size (copyDescriptor).
        let size = Int(UnsafeRawPointer(descriptor).load(as: UInt32.self))
        guard size >= 8 else { throw LoadFailure("\(displayName): the descriptor's struct_size (\(size)) is invalid") }
        let major = Int(UnsafeRawPointer(descriptor).load(fromByteOffset: MemoryLayout<pb_plugin>.offset(of: \pb_plugin.abi_major) ?? 4, as: UInt16.self))
        guard major == Int(PLUGBOARD_ABI_MAJOR) else {
            throw LoadFailure(
                "\(displayName) was built for plugin ABI \(major), this host speaks ABI \(PLUGBOARD_ABI_MAJOR); "
                    + "rebuild the plugin against this host's plugboard.h")
        }
        guard size >= minimumDescriptorSize else {
            throw LoadFailure(
                "\(displayName): descriptor is \(size) bytes, ABI \(PLUGBOARD_ABI_MAJOR) needs at least \(minimumDescriptorSize)")
        }
        let copy = copyDescriptor(descriptor, size: size)
        let pointee = copy.pointee
        guard pointee.create != nil, pointee.invoke != nil, pointee.destroy != nil else {
            throw LoadFailure("\(displayName): the descriptor lacks create, invoke or destroy")
        }
        if let toolchain = pointee.toolchain.map({ String(cString: $0) }), toolchain != hostToolchain {
            // The clang strings identify a toolchain exactly but say nothing a person recognises;
            // the Swift versions do (a 1.0 descriptor does not carry its own).
            let pluginSwift = pointee.swift_version.map { "Swift \(String(cString: $0))" } ?? "an unknown Swift version"
            throw LoadFailure(
                "\(displayName) was built with \(pluginSwift) (toolchain '\(toolchain)') but this host with Swift "
                    + "\(hostSwiftVersion) (toolchain '\(hostToolchain)'); Swift plugins share the host's runtime, "
                    + "so rebuild the plugin with Swift \(hostSwiftVersion)")
        }
        return PluginLibrary(handle: handle, descriptor: UnsafePointer(copy), path: path, digest: digest)
    }
}

/// The plugin's descriptor as far as its own `struct_size` goes, in a zeroed `pb_plugin`: a
/// descriptor from an older plugin ends before this header's last fields, and the bytes after it
/// are not the plugin's. A field only partly covered is cleared whole. Never freed: the copy
/// lives as long as the mapping, which is the life of the process.
private func copyDescriptor(_ descriptor: UnsafePointer<pb_plugin>, size: Int) -> UnsafeMutablePointer<pb_plugin> {
    let copy = UnsafeMutablePointer<pb_plugin>.allocate(capacity: 1)
    copy.initialize(to: pb_plugin())
    UnsafeMutableRawPointer(copy).copyMemory(from: descriptor, byteCount: min(size, MemoryLayout<pb_plugin>.size))
    let swiftVersionEnd = (MemoryLayout<pb_plugin>.offset(of: \pb_plugin.swift_version) ?? 0) + MemoryLayout<UnsafeRawPointer>.size
    if size < swiftVersionEnd { copy.pointee.swift_version = nil }
    return copy
}

/// What a plugin library is, as its descriptor says; known without mapping it in this process
/// when the plugin is isolated (its worker reports it).
public struct LibraryInfo: Sendable, Equatable {
    /// The private copy.
    public var path: String
    /// SHA-256 of the library's contents.
    public var digest: String
    public var name: String
    public var version: String
    public var handlers: [String]
}

extension PluginLibrary {
    var info: LibraryInfo {
        LibraryInfo(path: path, digest: digest, name: name, version: version, handlers: handlers)
    }
}

/// A reason a library could not be used; the loader turns it into a `PluginRefusal`.
struct LoadFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
