// swift-tools-version:6.1
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// What a module that serves HTTP imports: Hummingbird and the HTTP types its requests and responses use.
let serving: [Target.Dependency] = [
    .product(name: "Hummingbird", package: "hummingbird"),
    .product(name: "HTTPTypes", package: "swift-http-types"),
]

let package = Package(
    name: "serin",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "serin", targets: ["serin"]),
        .library(name: "SerinCore", targets: ["SerinCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        // Kubernetes mode's API client: TLS to the API server, streaming watches.
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // HTTP/2 framing, HPACK and flow control for the gateway's h2 and gRPC traffic, downstream and upstream.
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        // The verified client certificate a MUTUAL server forwards in x-forwarded-client-cert: its SHA-256, subject and
        // names (already built for the TLS packages above, so they cost the build nothing more).
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        // Logarithms and log-gamma for the core's analysis statistics.
        .package(url: "https://github.com/apple/swift-numerics.git", from: "1.1.1"),
        // The controller's own metrics: recorded through swift-metrics, exposed on /metrics by swift-prometheus.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // Structured logs (text or JSON lines) and one graceful-shutdown story for every long-running command.
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // The admin API, its event stream and the demo app: typed routes, one router, middleware.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        // Merges the event stream's updates with its keep-alive ticks.
        .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.1.4"),
    ],
    targets: [
        // The brain and the canonical model: no IO, no clock, no randomness. Its one import is swift-numerics'
        // RealModule, for the logarithms and log-gamma the analysis statistics need (the standard library has none).
        .target(
            name: "SerinCore", dependencies: [.product(name: "RealModule", package: "swift-numerics")], swiftSettings: strictSettings
        ),
        // posix_spawn for the programs Serin starts (Foundation's Process.run crashes now and then on Linux).
        .target(
            name: "SerinSpawn", dependencies: [.product(name: "NIOConcurrencyHelpers", package: "swift-nio")],
            swiftSettings: strictSettings
        ),
        // YAML (Istio, Kubernetes, Serin) into the canonical model, with file:line:col diagnostics.
        .target(
            name: "SerinManifests",
            dependencies: ["SerinCore", "SerinSystem", .product(name: "Yams", package: "Yams")],
            swiftSettings: strictSettings
        ),
        // The system's SQLite (Debian: libsqlite3-dev).
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // RolloutStore on a SQLite file: rollout state, events and measurements survive kill -9.
        .target(name: "SerinStore", dependencies: ["SerinCore", "SerinSystem", "CSQLite"], swiftSettings: strictSettings),
        // What Serin's IO shares with the system beneath it: a pause after a failed accept, or before the last file
        // descriptors; a failed connection or file said in the system's words.
        .target(
            name: "SerinSystem",
            dependencies: [.product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")],
            swiftSettings: strictSettings
        ),
        // Hummingbird as Serin serves with it: a listener started in the background with its bound port, text and
        // JSON answers as users read them, requests collected whole. The admin API, the demo app, test servers.
        .target(
            name: "SerinListener",
            dependencies: serving + [
                "SerinSystem", .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // The seed's "canarytester" page, v1 or v2, with knobs for errors and latency.
        .target(
            name: "SerinDemoApp",
            dependencies: serving + [
                "SerinListener",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // The reconcile loop: drives Rollout state machines through the core's ports (router, metrics, webhooks,
        // workloads, store). It imports only the core and the APIs of swift-metrics and swift-log: adapters, log
        // handlers and the metrics backend are handed in by the commands.
        .target(
            name: "SerinController",
            dependencies: [
                "SerinCore", .product(name: "CoreMetrics", package: "swift-metrics"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Serin's log handlers: today's `HH:mm:ss message` lines for a terminal, JSON lines for a log pipeline.
        .target(name: "SerinLogging", dependencies: [.product(name: "Logging", package: "swift-log")], swiftSettings: strictSettings),
        // The pieces of a long-running command as ServiceLifecycle services: loops cancelled on shutdown, listeners stopped.
        .target(
            name: "SerinLifecycle",
            dependencies: [
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // WebhookRunner over HTTP(S), on AsyncHTTPClient.
        .target(
            name: "SerinWebhooks",
            dependencies: [
                "SerinCore", "SerinSystem",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                // disableTLS: a client that verifies no certificate.
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strictSettings
        ),
        // Metrics from Prometheus: Istio-vocabulary PromQL, query templates, response parsing, retries; over
        // http(s) on AsyncHTTPClient, with a MetricTemplate's credentials.
        .target(
            name: "SerinPrometheus",
            dependencies: [
                "SerinCore", "SerinSystem",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // Kubernetes mode: raw API objects, JSON Patch, and the VirtualService changes a rollout makes.
        .target(
            name: "SerinKubernetes",
            dependencies: [
                "SerinCore", "SerinManifests", "SerinSpawn", "SerinSystem", .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // The SwiftNIO data plane: listeners, upstream pools, telemetry, admin endpoint.
        .target(
            name: "SerinGateway",
            dependencies: [
                "SerinCore", "SerinSystem",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                // TLS on HTTPS servers' ports: the ClientHello's SNI picks the server, NIOSSL terminates.
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            // The data plane runs each connection on one event loop; dynamic exclusivity checks on its
            // per-request state cost ~3% of CPU in release builds and guard nothing the loops don't.
            swiftSettings: strictSettings + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
        ),
        // The admin surface both modes serve: the HTTP API, dashboard, event stream, admin token, /readyz,
        // /openapi.json and the controller's metrics.
        .target(
            name: "SerinServer",
            dependencies: serving + [
                "SerinCore", "SerinController", "SerinListener",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            exclude: ["dashboard.html"],
            swiftSettings: strictSettings,
            plugins: ["EmbedText"]
        ),
        // Files people edit (docs/openapi.json, the dashboard page) built into SerinServer as strings.
        .executableTarget(name: "serin-embed-text", path: "Sources/SerinEmbedText", swiftSettings: strictSettings),
        .plugin(name: "EmbedText", capability: .buildTool(), dependencies: ["serin-embed-text"]),
        // Embedded mode assembled: gateway + live configuration + controller with gateway metrics and SQLite.
        .target(
            name: "SerinEmbedded",
            dependencies: serving + [
                "SerinCore", "SerinManifests", "SerinGateway", "SerinController", "SerinStore",
                "SerinPrometheus", "SerinWebhooks", "SerinServer", "SerinLifecycle", "SerinListener", "SerinSystem",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // The commands, as a library so tests can drive them.
        .target(
            name: "SerinCLI",
            dependencies: [
                "SerinCore", "SerinManifests", "SerinGateway", "SerinDemoApp", "SerinController",
                "SerinEmbedded", "SerinKubernetes", "SerinPrometheus", "SerinWebhooks", "SerinServer", "SerinLogging",
                "SerinLifecycle", "SerinListener", "SerinStore", "SerinSystem",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings,
            plugins: ["EmbedText"]
        ),
        .executableTarget(
            name: "serin",
            dependencies: ["SerinCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strictSettings
        ),
        // Helpers for tests: a manual clock and scripted ports, in-process backends, a small HTTP client, headless
        // Chromium over DevTools.
        // Linked into the test bundle only: caps how many tests run at once (four per core), so tests that start
        // servers and processes do not starve each other of threads on a small machine.
        .target(name: "CTestWidth"),
        .target(
            name: "SerinTesting",
            dependencies: [
                "CTestWidth", "SerinCore", "SerinGateway", "SerinDemoApp", "SerinManifests", "SerinKubernetes", "SerinSpawn",
                "SerinListener", .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Yams", package: "Yams"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                // The RFC 8441 WebSocket client: extended CONNECT on a real HTTP/2 implementation.
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(name: "serin-bench", dependencies: ["SerinCore"], path: "Sources/SerinBenchmarks", swiftSettings: strictSettings),
        // scripts/bench-gateway.sh's "relay": a bare SwiftNIO TCP relay, the floor of any proxy on SwiftNIO's channels.
        .executableTarget(
            name: "nio-relay",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            path: "Sources/NIORelay", swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SerinLoggingTests", dependencies: ["SerinLogging", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SerinLifecycleTests", dependencies: ["SerinLifecycle", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "SerinSpawnTests", dependencies: ["SerinSpawn"], swiftSettings: strictSettings),
        // SerinTesting for its seeded random source and scipy, which computes the statistics' reference values.
        .testTarget(name: "SerinCoreTests", dependencies: ["SerinCore", "SerinTesting"], swiftSettings: strictSettings),
        // The reconcile loop on a manual clock and scripted ports: no sockets, no sleeps.
        .testTarget(
            name: "SerinControllerTests",
            dependencies: [
                "SerinController", "SerinCore", "SerinTesting", .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SerinKubernetesTests",
            dependencies: [
                "SerinKubernetes", "SerinCore", "SerinController", "SerinManifests", "SerinTesting", "SerinListener", "SerinServer", "SerinEmbedded", "SerinWebhooks", "SerinPrometheus",
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SerinManifestsTests",
            dependencies: ["SerinManifests", "SerinCore", "SerinSystem", "SerinTesting", .product(name: "Yams", package: "Yams")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SerinEmbeddedTests",
            dependencies: [
                "SerinEmbedded", "SerinTesting", "SerinServer", "SerinController", "SerinCore", "SerinGateway",
                "SerinManifests", "SerinDemoApp", "SerinPrometheus", "SerinWebhooks", "SerinSpawn", "SerinListener", "SerinStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SerinPrometheusTests",
            dependencies: [
                "SerinPrometheus", "SerinCore", "SerinController", "SerinTesting", "SerinListener",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "SerinStoreTests", dependencies: ["SerinStore", "SerinCore", "SerinTesting"], swiftSettings: strictSettings),
        .testTarget(
            name: "SerinGatewayTests",
            dependencies: [
                "SerinGateway", "SerinTesting", "SerinDemoApp", "SerinCore", "SerinManifests", "SerinListener",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ],
            // The conformance corpus is data the differential test reads at run time.
            exclude: ["Conformance/corpus.jsonl"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SerinCLITests",
            dependencies: [
                "SerinCLI", "SerinTesting", "SerinServer", "SerinCore", "SerinManifests", "SerinGateway", "SerinDemoApp",
                "SerinEmbedded", "SerinController", "SerinStore", "SerinKubernetes", "serin", "SerinListener",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
    ]
)
