import Foundation

/// Checks that bytes are a complete ELF shared object for this machine before anything maps them.
///
/// The dynamic loader maps segments by the offsets the headers give; a file cut short (a copy
/// still in progress) maps pages past its end, and touching them kills the whole process with
/// SIGBUS inside ld.so, before any error can be reported. Every extent the headers name must lie
/// inside the file.
enum ELFCheck {
    enum Problem: Error, CustomStringConvertible {
        /// Cut short: most likely a copy still in progress.
        case incomplete(String)
        /// Whole, but not a shared library this host can load.
        case unusable(String)

        var description: String {
            switch self {
            case .incomplete(let reason), .unusable(let reason): reason
            }
        }
    }

    static let machine: UInt16 = {
        #if arch(x86_64)
            62  // EM_X86_64
        #elseif arch(arm64)
            183  // EM_AARCH64
        #else
            0
        #endif
    }()

    static func validate(_ bytes: Data) throws(Problem) {
        let size = UInt64(bytes.count)
        func integer<T: FixedWidthInteger>(_ offset: UInt64, as: T.Type) throws(Problem) -> T {
            let width = UInt64(MemoryLayout<T>.size)
            guard offset <= size, size - offset >= width else {
                throw .incomplete("the file ends at byte \(size), inside its headers")
            }
            var value: T = 0
            for index in 0..<Int(width) {
                value |= T(bytes[bytes.startIndex + Int(offset) + index]) << (8 * index)
            }
            return value
        }
        // What is there of the magic number must match, however little was written so far.
        guard bytes.prefix(4).elementsEqual([0x7f, 0x45, 0x4c, 0x46].prefix(bytes.count)) else { throw .unusable("it is not an ELF file") }
        guard size >= 64 else { throw .incomplete("\(size) bytes is too short for an ELF header") }
        guard try integer(4, as: UInt8.self) == 2, try integer(5, as: UInt8.self) == 1 else {
            throw .unusable("it is not a 64-bit little-endian ELF file")
        }
        guard try integer(16, as: UInt16.self) == 3 else { throw .unusable("it is not a shared object (ET_DYN)") }
        let machine = try integer(18, as: UInt16.self)
        guard machine == Self.machine else { throw .unusable("it was built for another processor (e_machine \(machine))") }

        let (programOffset, programSize, programCount) = (try integer(32, as: UInt64.self), try integer(54, as: UInt16.self), try integer(56, as: UInt16.self))
        let (sectionOffset, sectionSize, sectionCount) = (try integer(40, as: UInt64.self), try integer(58, as: UInt16.self), try integer(60, as: UInt16.self))
        guard programSize == 56, programCount > 0, fits(programOffset, UInt64(programCount) * 56, in: size) else {
            throw .incomplete("its program headers end past byte \(size)")
        }
        guard sectionCount == 0 || (sectionSize == 64 && fits(sectionOffset, UInt64(sectionCount) * 64, in: size)) else {
            throw .incomplete("its section headers end past byte \(size)")
        }
        var dynamic = false
        for index in 0..<UInt64(programCount) {
            let header = programOffset + index * 56
            let type = try integer(header, as: UInt32.self)
            let (offset, fileSize) = (try integer(header + 8, as: UInt64.self), try integer(header + 32, as: UInt64.self))
            guard fits(offset, fileSize, in: size) else {
                throw .incomplete("a segment ends at byte \(offset &+ fileSize), past its end at byte \(size)")
            }
            if type == 2 { dynamic = true }  // PT_DYNAMIC
        }
        guard dynamic else { throw .incomplete("it has no dynamic section") }
        for index in 0..<UInt64(sectionCount) {
            let header = sectionOffset + index * 64
            guard try integer(header + 4, as: UInt32.self) != 8 else { continue }  // SHT_NOBITS takes no room in the file
            let (offset, sectionBytes) = (try integer(header + 24, as: UInt64.self), try integer(header + 32, as: UInt64.self))
            guard fits(offset, sectionBytes, in: size) else {
                throw .incomplete("a section ends at byte \(offset &+ sectionBytes), past its end at byte \(size)")
            }
        }
    }

    private static func fits(_ offset: UInt64, _ length: UInt64, in size: UInt64) -> Bool {
        offset <= size && length <= size - offset
    }
}
