import Foundation
import PlugboardJSON
import PlugboardMCP
import Synchronization
import Testing

@testable import PlugboardPlugins

/// Libraries dropped into the plugins folder the way people really copy them: written in place,
/// slowly, and loaded half-way by a reload. A file cut short must never be mapped (the dynamic
/// loader would crash the host with SIGBUS); it is refused, the previous version keeps serving,
/// and the complete file then loads.
@Suite("Drop-in safety", .serialized)
struct DropInTests {
    /// 24 lengths: inside the ELF header, the program headers, the first pages, and spread over
    /// the whole file.
    static func cuts(of size: Int) -> [Int] {
        [0, 1, 16, 63, 64, 100, 1_000, 2_000, 4_096, 8_000] + (1...14).map { size * $0 / 15 }
    }

    @Test("truncated copies of a Swift and a C library are refused as incomplete, under load; the complete file loads", arguments: [
        "fixture_versioned_v2", "fixture_misbehaving",
    ])
    func truncatedLibraries(library: String) async throws {
        let plugins = PluginFolder()
        defer { plugins.remove() }
        let swift = library == "fixture_versioned_v2"
        let (plugin, file) = swift ? ("versioned", "libversioned.so") : ("misbehaving", "libfixture_misbehaving.so")
        if swift {
            plugins.add("versioned", manifest: ReloadTests.manifest())
            try ReloadTests.install("fixture_versioned_v1", into: plugins)
        } else {
            plugins.add("misbehaving", manifest: misbehavingManifest(tools: "  - { name: owner, handler: owner, description: Says whose call it is. }"))
            try FileManager.default.copyItem(atPath: TestSupport.library(library), toPath: "\(plugins.folder)/misbehaving/\(file)")
        }
        plugins.addExample("demo")
        let host = plugins.host()
        #expect(await host.start().refusals.isEmpty)
        let target = "\(plugins.folder)/\(plugin)/\(file)"
        let complete = try Data(contentsOf: URL(fileURLWithPath: TestSupport.library(library)))

        // Calls of both plugins keep going while the reloads run.
        let failures = Mutex<[String]>([])
        let calls = Mutex(0)
        let load = Task {
            while !Task.isCancelled {
                for (tool, arguments) in [(swift ? "answer" : "owner", JSONObject()), ("say", ["text": "hi"] as JSONObject)] {
                    do {
                        let result = try await call(host, tool, arguments)
                        if result["isError"] == true { failures.withLock { $0.append("\(tool): \(result.jsonString)") } }
                    } catch {
                        failures.withLock { $0.append("\(tool): \(error)") }
                    }
                    calls.withLock { $0 += 1 }
                }
            }
        }
        for cut in Self.cuts(of: complete.count) {
            // Written in place, as `cp` does, and caught half-way by a reload, with calls going on.
            let before = calls.withLock { $0 }
            #expect(await eventually { calls.withLock { $0 } > before }, "no call got through before the reload")
            try complete.prefix(cut).write(to: URL(fileURLWithPath: target))
            let outcome = await host.reload(reason: "test")
            #expect(!outcome.applied, "cut at \(cut) of \(complete.count) bytes")
            let reason = outcome.refusals.first?.reason ?? ""
            #expect(reason.contains("looks incomplete (still being copied?)") && reason.contains(target), "cut at \(cut): \(reason)")
        }
        try complete.write(to: URL(fileURLWithPath: target))
        let final = await host.reload(reason: "test")
        #expect(final.refusals.isEmpty, "\(final.refusals)")
        load.cancel()
        _ = await load.value
        #expect(failures.withLock { $0 }.isEmpty)
        #expect(calls.withLock { $0 } > 0)
        if swift {
            #expect(final.applied && final.loaded == ["versioned"])
            #expect(try await call(host, "answer")["content"]?.arrayValue?.first?["text"] == "v2")
        }
        await host.shutdown()
    }

    @Test("ELF files for another machine, of another type or not ELF at all are refused before mapping")
    func foreignFiles() throws {
        let library = try Data(contentsOf: URL(fileURLWithPath: TestSupport.library("fixture_misbehaving")))
        #expect(throws: Never.self) { try ELFCheck.validate(library) }
        var otherMachine = library
        otherMachine[18] = 40  // EM_ARM
        #expect(throws: ELFCheck.Problem.self) { try ELFCheck.validate(otherMachine) }
        var executable = library
        executable[16] = 2  // ET_EXEC
        #expect(throws: ELFCheck.Problem.self) { try ELFCheck.validate(executable) }
        #expect(throws: ELFCheck.Problem.self) { try ELFCheck.validate(Data("#!/bin/sh\necho not a library\n".utf8)) }
    }

    func call(_ host: PluginHost, _ tool: String, _ arguments: JSONObject = [:]) async throws -> JSONValue {
        let lease = host.leaseCatalog()
        defer { lease.release() }
        let context = MCPCallContext(caller: MCPCaller(owner: "o"), requestID: .int(1), progress: nil, cancellation: CancellationSignal())
        return try await lease.catalog.callTool(tool, arguments: arguments, context: context)
    }
}
