import Foundation

/// Finds every `manifest.yaml` under the plugins folder, in a stable order.
enum ManifestDiscovery {
    static let fileName = "manifest.yaml"

    /// Paths of manifests below `folder` (hidden folders and build folders are skipped), sorted.
    static func manifests(in folder: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "the plugins folder '\(folder)' does not exist"])
        }
        var found: [String] = []
        var pending = [folder]
        while let directory = pending.popLast() {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            for entry in entries where !entry.hasPrefix(".") {
                let path = directory.hasSuffix("/") ? directory + entry : "\(directory)/\(entry)"
                var entryIsDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &entryIsDirectory) else { continue }
                if entryIsDirectory.boolValue {
                    pending.append(path)
                } else if entry == fileName {
                    found.append(path)
                }
            }
        }
        return found.sorted()
    }
}
