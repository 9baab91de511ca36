import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import SerinHTTP
import Testing

/// A real Prometheus (`/usr/bin/prometheus`) on 127.0.0.1 with a temporary data directory, for tests.
final class PrometheusProcess: Sendable {
    static let path = "/usr/bin/prometheus"
    static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: path) }
    static let skipReason: Comment = "Prometheus is not installed at /usr/bin/prometheus (apt-get install prometheus)"

    let port: Int
    private let process: Process
    private let directory: URL

    var address: String { "http://127.0.0.1:\(port)" }

    private init(port: Int, process: Process, directory: URL) {
        self.port = port
        self.process = process
        self.directory = directory
    }

    /// Starts Prometheus scraping `scrapeTarget` (`host:port`) every second, or nothing, and returns once
    /// `/-/ready` answers 200.
    static func start(scrapeTarget: String? = nil) async throws -> PrometheusProcess {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("serin-prometheus-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var config = "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:"
        if let scrapeTarget {
            config += "\n  - job_name: serin\n    static_configs:\n      - targets: ['\(scrapeTarget)']\n"
        } else {
            config += " []\n"
        }
        let configFile = directory.appendingPathComponent("prometheus.yml")
        try config.write(to: configFile, atomically: true, encoding: .utf8)
        let port = try await freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = [
            "--config.file=\(configFile.path)",
            "--storage.tsdb.path=\(directory.appendingPathComponent("data").path)",
            "--web.listen-address=127.0.0.1:\(port)",
        ]
        let log = directory.appendingPathComponent("prometheus.log")
        guard FileManager.default.createFile(atPath: log.path, contents: nil) else {
            throw StartError(message: "cannot create \(log.path)")
        }
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let prometheus = PrometheusProcess(port: port, process: process, directory: directory)
        do {
            try await prometheus.waitUntilReady(log: log)
        } catch {
            prometheus.stop()
            throw error
        }
        return prometheus
    }

    /// Polls `/-/ready` until it answers 200, the process exits, or 30 seconds pass.
    private func waitUntilReady(log: URL) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                throw StartError(message: "Prometheus exited with \(process.terminationStatus): \(logText(log))")
            }
            if let client = try? await SimpleHTTPClient.connect(host: "127.0.0.1", port: port, group: MultiThreadedEventLoopGroup.singleton) {
                let response = try? await client.send(.GET, "/-/ready", timeout: .seconds(1))
                await client.close()
                if response?.status == 200 { return }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw StartError(message: "Prometheus on port \(port) not ready within 30s: \(logText(log))")
    }

    private func logText(_ log: URL) -> String {
        String((try? String(contentsOf: log, encoding: .utf8))?.suffix(2000) ?? "no log")
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// A port nothing listens on right now: bound by the kernel's choice, then released.
    static func freePort() async throws -> Int {
        let server = try await SimpleHTTPServer.start(group: MultiThreadedEventLoopGroup.singleton, host: "127.0.0.1", port: 0) { _ in
            .text("")
        }
        let port = server.port
        await server.close()
        return port
    }

    struct StartError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }
}
