import Foundation
import NIOCore
import NIOHTTP1
import SerinSpawn

/// A real Prometheus server (Debian's `prometheus` package) on 127.0.0.1 with a temporary data
/// directory, scraping the given targets every second. Tests that need it run against the real thing:
/// locally they are skipped with a reason when it is not installed; in CI (`CI=true`) a missing
/// Prometheus is a failure.
public final class PrometheusServer: @unchecked Sendable {
    // The process handle and paths are set once in `start` and only read afterwards.
    public static let binary = "/usr/bin/prometheus"
    public static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: binary) }
    /// CI must run these tests; elsewhere they run when Prometheus is installed.
    public static var shouldRun: Bool { isInstalled || ProcessInfo.processInfo.environment["CI"] == "true" }

    private let process: ChildProcess
    private let directory: URL
    public let port: Int
    public var address: String { "http://127.0.0.1:\(port)" }

    private init(process: ChildProcess, directory: URL, port: Int) {
        self.process = process
        self.directory = directory
        self.port = port
    }

    public struct NotInstalled: Error, CustomStringConvertible {
        public var description: String {
            "Prometheus is not installed at \(PrometheusServer.binary) (apt-get install prometheus); CI=true requires it"
        }
    }

    /// The reason printed when these tests are skipped locally.
    public static let skipReason = "Prometheus is not installed at \(binary) (apt-get install prometheus); CI runs this"

    /// Starts Prometheus on a free port, scraping `targets` (none is fine) every second, and waits until it is ready.
    /// A port found free can be taken by another test before Prometheus binds it; Prometheus then exits, and
    /// another port is tried.
    public static func start(scraping targets: [String] = [], group: any EventLoopGroup) async throws -> PrometheusServer {
        try await ChildServer.onFreePort(group: group) { port in try await start(port: port, scraping: targets, group: group) }
    }

    /// Starts Prometheus on `port`, scraping `targets` (`127.0.0.1:PORT`) every second, and waits until it is ready.
    public static func start(port: Int, scraping targets: [String], group: any EventLoopGroup) async throws -> PrometheusServer {
        guard isInstalled else { throw NotInstalled() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("serin-prometheus-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("data"), withIntermediateDirectories: true)
        let config = """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              evaluation_interval: 1s
            scrape_configs:
            - job_name: serin
              metrics_path: /metrics
              static_configs:
              - targets: [\(targets.map { "\"\($0)\"" }.joined(separator: ", "))]

            """
        let (configURL, log) = try ChildServer.prepare(in: directory, config: config, configName: "prometheus.yml", logName: "prometheus.log")
        defer { try? log.close() }
        let process = try ChildProcess.spawn(
            binary,
            arguments: [
                "--config.file=\(configURL.path)", "--storage.tsdb.path=\(directory.appendingPathComponent("data").path)",
                "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
            ],
            stderr: .descriptor(log.fileDescriptor)
        )
        let server = PrometheusServer(process: process, directory: directory, port: port)
        do {
            try await server.waitUntil(timeout: .seconds(30), group: group) { client in
                (try? await client.send(.GET, "/-/ready", timeout: .seconds(2)).status) == 200
            }
        } catch {
            server.stop()
            throw error
        }
        return server
    }

    /// Waits until every target has been scraped successfully at least once.
    public func waitForFirstScrape(group: any EventLoopGroup, timeout: Duration = .seconds(30)) async throws {
        try await waitUntil(timeout: timeout, group: group) { client in
            guard let response = try? await client.send(.GET, "/api/v1/targets", timeout: .seconds(2)) else { return false }
            let text = response.bodyText
            return text.contains("\"health\":\"up\"") && !text.contains("\"health\":\"unknown\"") && !text.contains("\"health\":\"down\"")
        }
    }

    /// Polls `condition` every 100ms (never a blind sleep) until it holds or `timeout` passes.
    private func waitUntil(
        timeout: Duration, group: any EventLoopGroup, _ condition: (SimpleHTTPClient) async -> Bool
    ) async throws {
        let log = directory.appendingPathComponent("prometheus.log")
        switch try await ChildServer.poll(port: port, process: process, log: log, lines: 2, timeout: timeout, group: group, condition) {
        case .ready: return
        case .exited(let status, let last): throw StartFailed(reason: "prometheus exited with status \(status)\(last)", exited: true)
        case .timedOut: throw StartFailed(reason: "not ready within \(timeout)")
        }
    }

    public struct StartFailed: Error, CustomStringConvertible {
        public let reason: String
        /// Prometheus exited while starting (most often: its port was taken).
        public var exited = false
        public var description: String { "Prometheus did not start: \(reason)" }
    }

    /// Stops the server (SIGTERM, then waits) and removes its data.
    public func stop() {
        ChildServer.stop(process, removing: directory)
    }
}
