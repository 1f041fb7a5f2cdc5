// swift-tools-version:6.1
import PackageDescription

/// Example plugins shipped in `Plugins/`: product name (the library file is `lib<product>.so`),
/// target name and source folder.
let examplePlugins: [(product: String, target: String, path: String, language: String)] = [
    ("echo_c", "EchoCPlugin", "Plugins/echo_c/Sources", "c"),
    ("demo", "DemoPlugin", "Plugins/demo/Sources", "swift"),
    ("notes", "NotesPlugin", "Plugins/notes/Sources", "swift"),
    ("projects", "ProjectsPlugin", "Plugins/projects/Sources", "swift"),
    ("meetings", "MeetingsPlugin", "Plugins/meetings/Sources", "swift"),
]

/// Plugins the tests load for real: deliberately broken ones (C) and two builds of one Swift
/// plugin with different behaviour, for the reload tests.
let fixturePlugins: [(product: String, target: String, language: String)] = [
    ("fixture_misbehaving", "FixtureMisbehaving", "c"),
    ("fixture_abi2", "FixtureABI2", "c"),
    ("fixture_nosymbol", "FixtureNoSymbol", "c"),
    ("fixture_toolchain", "FixtureToolchain", "c"),
    ("fixture_sql", "FixtureSQL", "c"),
    ("fixture_thief", "FixtureThief", "c"),
    ("fixture_versioned_v1", "FixtureVersionedV1", "swift"),
    ("fixture_versioned_v2", "FixtureVersionedV2", "swift"),
]

/// Plugins link `-Bsymbolic` so their own symbols bind inside the plugin, never to another image's
/// copy: C code in packages has default visibility, and a host linked with `--export-dynamic` was
/// measured to bind a plugin's libyaml calls to the host's older copy. Belt and braces: the host is
/// not linked that way.
let pluginLinkerSettings: [LinkerSetting] = [.unsafeFlags(["-Xlinker", "-Bsymbolic"])]

let package = Package(
    name: "plugboard",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "plugboard", targets: ["PlugboardCLI"]),
        .executable(name: "bench-raw-route", targets: ["BenchRawRoute"]),
        .executable(name: "bench-raw-query", targets: ["BenchRawQuery"]),
        .library(name: "PlugboardKit", targets: ["PlugboardKit"]),
    ]
        + examplePlugins.map { .library(name: $0.product, type: .dynamic, targets: [$0.target]) }
        + fixturePlugins.map { .library(name: $0.product, type: .dynamic, targets: [$0.target]) },
    // Pinned exactly: the host is an application, Package.resolved cannot be committed here, and
    // two builds a month apart must resolve the same graph.
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", exact: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", exact: "1.8.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", exact: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", exact: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", exact: "4.5.2"),
        // PluginRead relies on `execute` reading a prepared statement's statics within the call
        // (PostgresScopedData's prepared reads): check that before moving this pin.
        .package(url: "https://github.com/vapor/sqlite-nio.git", exact: "1.13.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", exact: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio.git", exact: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", exact: "2.37.6"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", exact: "2.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", exact: "1.37.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", exact: "5.8.0"),
        .package(url: "https://github.com/swift-extras/swift-extras-base64.git", exact: "1.2.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", exact: "2.4.1"),
    ],
    targets: [
        // The C ABI: the only thing host and plugins share.
        .target(name: "CPlugboard", path: "Sources/CPlugboard"),
        // JSON values, the writer and the JSON Schema subset the host validates with. No dependencies.
        .target(name: "PlugboardJSON"),
        // The Swift plugin SDK. Depends on nothing outside this package, so plugins never inherit
        // the host's dependency graph.
        .target(name: "PlugboardKit", dependencies: ["CPlugboard", "PlugboardJSON"]),
        // MCP: JSON-RPC, both protocol eras and Streamable HTTP semantics. No HTTP framework, no plugins, no auth.
        .target(
            name: "PlugboardMCP",
            dependencies: [
                "PlugboardJSON",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ExtrasBase64", package: "swift-extras-base64"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        // What plugins, data and auth agree on: the data service a plugin's queries go to, table
        // declarations, query scopes and replies, audit events. Nothing else: no loader, no database.
        .target(name: "PlugboardContracts", dependencies: ["CPlugboard"]),
        // Manifests, the dlopen loader, plugin transports, the catalog and generations. No HTTP, no auth.
        .target(
            name: "PlugboardPlugins",
            dependencies: [
                "CPlugboard", "PlugboardJSON", "PlugboardMCP", "PlugboardContracts",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                // The `http` plugin kind: one shared client with keep-alive for every REST upstream.
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // SQLite's C API as sqlite-nio vendors it (it declares no product for it), and a per-thread
        // memory budget around SQLite's allocator for plugins' statements.
        .target(name: "CSQLite", dependencies: [.product(name: "SQLiteNIO", package: "sqlite-nio")]),
        // The stores: host state, audit and the per-owner scoped queries, on SQLite or PostgreSQL.
        // A sibling of PlugboardPlugins: the two agree only through PlugboardContracts.
        .target(
            name: "PlugboardData",
            dependencies: [
                "PlugboardJSON", "PlugboardContracts", "CPlugboard", "CSQLite",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // OAuth 2.1: the authorization server's logic and the resource server's token checks (its
        // own tokens, or an external issuer's). No HTTP server; outbound fetches only.
        .target(
            name: "PlugboardAuth",
            dependencies: [
                "PlugboardJSON", "PlugboardData", "PlugboardContracts",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The composition root: configuration, the HTTP server, stdio mode.
        .target(
            name: "PlugboardServer",
            dependencies: [
                "PlugboardJSON", "PlugboardMCP", "PlugboardContracts", "PlugboardPlugins", "PlugboardData", "PlugboardAuth",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "PlugboardCLI",
            dependencies: [
                "PlugboardServer", "PlugboardPlugins", "PlugboardJSON", "PlugboardData", "PlugboardAuth",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The benchmark's baseline: a bare Hummingbird route doing the same JSON-RPC decode/encode.
        .executableTarget(
            name: "BenchRawRoute",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")],
            path: "bench/RawRoute"
        ),
        // The data benchmark's baseline: the same list_projects query straight through PostgresNIO.
        .executableTarget(
            name: "BenchRawQuery",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird"), .product(name: "PostgresNIO", package: "postgres-nio")],
            path: "bench/RawQuery"
        ),
        .testTarget(
            name: "PlugboardTests",
            dependencies: [
                "PlugboardJSON", "PlugboardMCP", "PlugboardContracts", "PlugboardPlugins", "PlugboardData", "PlugboardServer", "PlugboardAuth",
                "CPlugboard",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
    ]
        + examplePlugins.map { plugin in
            plugin.language == "c"
                ? .target(name: plugin.target, dependencies: ["CPlugboard"], path: plugin.path, publicHeadersPath: ".", linkerSettings: pluginLinkerSettings)
                : .target(name: plugin.target, dependencies: ["PlugboardKit"], path: plugin.path, linkerSettings: pluginLinkerSettings)
        }
        + fixturePlugins.map { fixture in
            fixture.language == "c"
                ? .target(
                    name: fixture.target, dependencies: ["CPlugboard"], path: "Tests/Fixtures/\(fixture.product)", publicHeadersPath: ".",
                    linkerSettings: pluginLinkerSettings)
                : .target(
                    name: fixture.target, dependencies: ["FixtureVersionedCore", "PlugboardKit"], path: "Tests/Fixtures/\(fixture.product)",
                    linkerSettings: pluginLinkerSettings)
        }
        + [.target(name: "FixtureVersionedCore", dependencies: ["PlugboardKit"], path: "Tests/Fixtures/versioned_core")]
)
