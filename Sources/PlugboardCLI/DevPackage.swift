import ArgumentParser
import Foundation
import PlugboardPlugins

/// A plugin package under development: how to build it and where its library lands.
struct DevPackage {
    enum Kind { case swift, make }

    let folder: URL
    let kind: Kind
    var manifest: Manifest

    init(folder: URL) throws {
        self.folder = folder
        let files = FileManager.default
        if files.fileExists(atPath: folder.appendingPathComponent("Package.swift").path) {
            kind = .swift
        } else if files.fileExists(atPath: folder.appendingPathComponent("Makefile").path) {
            kind = .make
        } else {
            throw ValidationError("\(folder.path) has neither Package.swift nor Makefile; `plugboard new plugin NAME` writes a package that has one")
        }
        manifest = try Self.readManifest(folder)
    }

    static func readManifest(_ folder: URL) throws -> Manifest {
        let path = folder.appendingPathComponent("manifest.yaml").path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("\(path) is missing: the plugin's manifest goes at the package's top")
        }
        do {
            return try ManifestParser.parse(yaml: String(decoding: data, as: UTF8.self), file: path)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// Runs the build with its output on this terminal; true when it succeeded.
    func build() -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = kind == .swift ? ["swift", "build"] : ["make"]
        process.currentDirectoryURL = folder
        do {
            try process.run()
        } catch {
            say("cannot start the build: \(error)")
            return false
        }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    /// Where the build put the library: SwiftPM's debug folder, or next to the manifest for make.
    var builtLibrary: URL {
        switch kind {
        case .swift: folder.appendingPathComponent(".build/debug").appendingPathComponent(manifest.library)
        case .make: folder.appendingPathComponent(manifest.library)
        }
    }

    /// Modification times of the sources, build output left out (hidden folders, libraries), so
    /// a build never triggers the next one.
    func sourceStamps() -> [String: Date] {
        var stamps: [String: Date] = [:]
        let keys: [URLResourceKey] = [.contentModificationDateKey, .isRegularFileKey]
        guard let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: keys, options: [.skipsHiddenFiles]) else {
            return stamps
        }
        for case let url as URL in walker {
            guard url.pathExtension != "so", let values = try? url.resourceValues(forKeys: Set(keys)), values.isRegularFile == true else { continue }
            stamps[url.path] = values.contentModificationDate
        }
        return stamps
    }
}
