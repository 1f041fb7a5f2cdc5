import ArgumentParser
import Foundation
import PlugboardPlugins

/// `plugboard new plugin NAME`: a plugin package an author can build and run at once.
struct New: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create something new from a template.", subcommands: [NewPlugin.self])
}

struct NewPlugin: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin",
        abstract: "Write a buildable plugin package: one tool, its manifest, a test (Swift) and a README.")

    enum Language: String, ExpressibleByArgument, CaseIterable {
        case swift, c
    }

    @Argument(help: "The plugin's name (letters, digits, _ . -; at most 64).")
    var name: String

    @Option(help: "The language: swift (PlugboardKit) or c (plugboard.h).")
    var lang: Language = .swift

    @Option(help: "The folder to write (default: ./NAME). It must not exist or be empty.")
    var dir: String?

    @Option(help: "The Plugboard checkout the plugin builds against (default: the one this binary was built from).")
    var sdk: String?

    func run() throws {
        guard NameRules.isValid(name) else {
            throw ValidationError("'\(name)' is not a valid plugin name: use 1 to 64 letters, digits, '_', '.' or '-' (\(NameRules.pattern))")
        }
        let folder = URL(fileURLWithPath: dir ?? name).standardizedFileURL
        try Self.refuseNonEmpty(folder)
        let sdkRoot = try Self.sdkRoot(sdk)
        let names = ScaffoldNames(plugin: name)
        let files = lang == .swift ? SwiftScaffold.files(names, sdk: sdkRoot) : CScaffold.files(names, sdk: sdkRoot)
        for (path, text) in files {
            let url = folder.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
        print("wrote plugin '\(name)' (\(lang.rawValue)) in \(folder.path):")
        for path in files.map(\.path) { print("  \(path)") }
        print("next: cd \(folder.path) && \(lang == .swift ? "swift build && swift test" : "make"), then `plugboard dev \(folder.path)`")
    }

    /// Writing into a folder that already holds files would mix two packages or clobber work.
    static func refuseNonEmpty(_ folder: URL) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory) else { return }
        guard isDirectory.boolValue else {
            throw ValidationError("\(folder.path) exists and is not a folder; choose another --dir")
        }
        let contents = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        guard contents.isEmpty else {
            throw ValidationError("\(folder.path) already exists and is not empty; choose another --dir or remove it")
        }
    }

    /// The checkout holding PlugboardKit and plugboard.h: `--sdk`, else the source tree this
    /// binary was built from, when it is still there.
    static func sdkRoot(_ given: String?, builtFrom: String = #filePath) throws -> URL {
        let candidate: URL
        if let given {
            candidate = URL(fileURLWithPath: given).standardizedFileURL
        } else {
            // Sources/PlugboardCLI/NewCommand.swift → the repository root.
            candidate = URL(fileURLWithPath: builtFrom).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        }
        let header = candidate.appendingPathComponent("Sources/CPlugboard/include/plugboard.h").path
        let kit = candidate.appendingPathComponent("Sources/PlugboardKit").path
        guard FileManager.default.fileExists(atPath: header), FileManager.default.fileExists(atPath: kit) else {
            throw ValidationError(
                given == nil
                    ? "cannot find the Plugboard checkout this binary was built from; pass --sdk PATH (a clone of the Plugboard repository)"
                    : "\(candidate.path) is not a Plugboard checkout (no Sources/PlugboardKit and Sources/CPlugboard/include/plugboard.h); pass --sdk PATH of a clone")
        }
        return candidate
    }
}
