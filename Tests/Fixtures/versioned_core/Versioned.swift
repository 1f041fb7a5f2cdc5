import PlugboardKit

#if canImport(Glibc)
import Glibc
#endif

/// One plugin, `versioned`, built twice (fixture_versioned_v1 and _v2) with different answers:
/// the reload tests swap the two builds under load and check every answer comes from one of them.
public func exportVersioned(_ version: String) -> UnsafePointer<pb_plugin> {
    Plugboard.export(name: "versioned", version: version == "v1" ? "1.0.0" : "2.0.0") { plugin in
        plugin.onCreate { configuration in
            let settings = try configuration.decode(Settings.self)
            if settings.crashOnCreate == true { segfault() }
            if settings.failOnCreate == true { throw ToolError("refusing to start: fail_on_create is set") }
        }

        plugin.tool("versioned.answer") { (_: NoArguments, _) in
            .text(version)
        }

        plugin.tool("versioned.slow") { (arguments: SlowArguments, call) in
            for step in 1...max(1, arguments.steps) {
                try await Task.sleep(for: .milliseconds(arguments.delayMs))
                call.progress(Double(step), total: Double(arguments.steps), message: version)
            }
            return .text("\(version) finished \(arguments.steps) steps")
        }

        // Answers only once the test creates `release_file`: a call that stays in flight for as long
        // as a test needs, without guessing a duration.
        plugin.tool("versioned.hold") { (arguments: HoldArguments, call) in
            call.progress(0, total: 1, message: "\(version) holding")
            while access(arguments.releaseFile, F_OK) != 0 {
                try await Task.sleep(for: .milliseconds(5))
            }
            return .text("\(version) released")
        }

        plugin.tool("versioned.crash") { (arguments: CrashArguments, _) in
            switch arguments.mode {
            case "segfault":
                segfault()
            case "fatal":
                fatalError("versioned \(version) called fatalError on purpose")
            default:
                break
            }
            return .text("\(version) survived")
        }
    }
}

/// A real invalid memory access, as a plugin bug makes one (raise(SIGSEGV) would return from a
/// crash handler instead of dying).
func segfault() {
    let address = UnsafeMutablePointer<Int>(bitPattern: 8)
    address?.pointee = 42
}

public struct NoArguments: Decodable, Sendable {}

struct Settings: Decodable, Sendable {
    let crashOnCreate: Bool?
    let failOnCreate: Bool?

    enum CodingKeys: String, CodingKey {
        case crashOnCreate = "crash_on_create"
        case failOnCreate = "fail_on_create"
    }
}

public struct SlowArguments: Decodable, Sendable {
    let steps: Int
    let delayMs: Int

    enum CodingKeys: String, CodingKey {
        case steps
        case delayMs = "delay_ms"
    }
}

public struct HoldArguments: Decodable, Sendable {
    let releaseFile: String

    enum CodingKeys: String, CodingKey {
        case releaseFile = "release_file"
    }
}

public struct CrashArguments: Decodable, Sendable {
    let mode: String
}
