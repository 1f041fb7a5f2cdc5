import Foundation

/// A Swift plugin package: PlugboardKit by path, linked `-Bsymbolic`, one tool and its test.
enum SwiftScaffold {
    static func files(_ names: ScaffoldNames, sdk: URL) -> [(path: String, text: String)] {
        [
            ("Package.swift", package(names, sdk: sdk)),
            ("Sources/\(names.target)/\(names.target).swift", source(names)),
            ("Tests/\(names.target)Tests/\(names.target)Tests.swift", test(names)),
            ("manifest.yaml", ScaffoldManifest.text(names, source: "Sources/\(names.target)/\(names.target).swift")),
            ("README.md", readme(names)),
            (".gitignore", ".build/\n.swiftpm/\nPackage.resolved\n"),
        ]
    }

    static func package(_ names: ScaffoldNames, sdk: URL) -> String {
        // SwiftPM names a path dependency after its folder, lowercased.
        let identity = sdk.lastPathComponent.lowercased()
        return """
            // swift-tools-version:6.1
            import PackageDescription

            let package = Package(
                name: \(names.quoted(names.plugin)),
                platforms: [.macOS(.v15)],
                products: [
                    // The host loads lib\(names.product).so: a dynamic library.
                    .library(name: \(names.quoted(names.product)), type: .dynamic, targets: [\(names.quoted(names.target))])
                ],
                dependencies: [
                    // The Plugboard checkout this plugin builds against; build with the same Swift
                    // toolchain as the host that loads it.
                    .package(path: \(names.quoted(sdk.path)))
                ],
                targets: [
                    .target(
                        name: \(names.quoted(names.target)),
                        dependencies: [.product(name: "PlugboardKit", package: \(names.quoted(identity)))],
                        // The plugin's own symbols bind inside the plugin, never to a copy in the host
                        // or another plugin. unsafeFlags are allowed in a root package.
                        linkerSettings: [.unsafeFlags(["-Xlinker", "-Bsymbolic"])]
                    ),
                    .testTarget(
                        name: \(names.quoted(names.target + "Tests")),
                        dependencies: [\(names.quoted(names.target)), .product(name: "PlugboardKit", package: \(names.quoted(identity)))]
                    ),
                ]
            )

            """
    }

    static func source(_ names: ScaffoldNames) -> String {
        """
        import PlugboardKit

        /// The plugin's entry point: the host finds `plugboard_plugin_v1` and reads the handlers from it.
        @c(plugboard_plugin_v1)
        public func plugboardPlugin() -> UnsafePointer<pb_plugin> {
            Plugboard.export(name: \(names.quoted(names.plugin)), version: "0.1.0") { plugin in
                plugin.tool(\(names.quoted(names.handler))) { (arguments: AddArguments, _) in
                    .structured(Sum(sum: try add(arguments.a, arguments.b)))
                }
            }
        }

        struct AddArguments: Decodable {
            let a: Int
            let b: Int
        }

        struct Sum: Encodable {
            let sum: Int
        }

        /// Kept apart from the handler so a test can call it directly. An overflow would trap and take
        /// the host down with it, so it is a tool error the model can act on instead.
        func add(_ a: Int, _ b: Int) throws -> Int {
            let (sum, overflow) = a.addingReportingOverflow(b)
            guard !overflow else { throw ToolError("The sum does not fit in a 64-bit integer; use smaller numbers.") }
            return sum
        }

        """
    }

    static func test(_ names: ScaffoldNames) -> String {
        """
        import PlugboardKit
        import Testing

        @testable import \(names.target)

        @Test func addsTwoIntegers() throws {
            #expect(try add(2, 3) == 5)
        }

        @Test func refusesAnOverflowWithAToolError() {
            #expect(throws: ToolError.self) { try add(Int.max, 1) }
        }

        /// The manifest's handler must be one the library exports, or the host refuses the plugin.
        @Test func exportsTheManifestsHandler() {
            let plugin = plugboardPlugin().pointee
            #expect(String(cString: plugin.name) == \(names.quoted(names.plugin)))
            let handlers = plugin.handlers.map { list in (0..<plugin.handler_count).compactMap { list[$0].map { String(cString: $0) } } } ?? []
            #expect(handlers == [\(names.quoted(names.handler))])
        }

        """
    }

    static func readme(_ names: ScaffoldNames) -> String {
        """
        # \(names.plugin)

        A Plugboard plugin in Swift, written by `plugboard new plugin \(names.plugin)`. One tool, `add`
        (handler `\(names.handler)`), in `Sources/\(names.target)/\(names.target).swift`; what clients see is in
        `manifest.yaml`.

        ## Build and test

        ```sh
        swift build              # .build/debug/lib\(names.product).so
        swift test
        ```

        Build with the same Swift toolchain as the host (`plugboard --version` names it): plugins share
        its runtime, and the host refuses a library built by another.

        \(ScaffoldManifest.runSection(names, build: "swift build"))
        """
    }
}
