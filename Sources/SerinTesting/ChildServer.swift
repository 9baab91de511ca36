import Foundation
import NIOCore
import SerinSpawn

/// How a real server the tests start (Prometheus, Envoy) got on while it started: the polling and the
/// stopping are the same whichever server it is.
enum ChildServer {
    /// The executable `name` on PATH, if there is one.
    static func onPath(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Whether tests of a tool run: CI must run them; elsewhere they run when the tool is installed.
    static func shouldRun(installed: Bool) -> Bool {
        installed || ProcessInfo.processInfo.environment["CI"] == "true"
    }

    enum Readiness {
        case ready
        /// It exited; the last lines of its log, ready to append to a message.
        case exited(status: Int32, lastLog: String)
        case timedOut
    }

    /// Polls `condition` on 127.0.0.1:`port` every 100ms (never a blind sleep) until it holds, `process`
    /// exits, or `timeout` passes.
    static func poll(
        port: Int, process: ChildProcess, log: URL, lines: Int, timeout: Duration, group: any EventLoopGroup,
        _ condition: (SimpleHTTPClient) async -> Bool
    ) async throws -> Readiness {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let client = try? await SimpleHTTPClient.connect(host: "127.0.0.1", port: port, group: group) {
                let done = await condition(client)
                await client.close()
                if done { return .ready }
            }
            guard process.isRunning else {
                let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                let last = text.split(separator: "\n").suffix(lines).joined(separator: " / ")
                return .exited(status: process.termination?.status ?? -1, lastLog: last.isEmpty ? "" : ": \(last)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        return .timedOut
    }

    /// Writes `config` to `configName` in `directory` and opens an empty `logName` beside it for the server's
    /// output, whose last lines say why it stopped, should it exit while starting. The caller closes the log.
    static func prepare(in directory: URL, config: String, configName: String, logName: String) throws -> (config: URL, log: FileHandle) {
        let configURL = directory.appendingPathComponent(configName)
        try config.write(to: configURL, atomically: true, encoding: .utf8)
        let logURL = directory.appendingPathComponent(logName)
        // A file that cannot be created makes FileHandle(forWritingTo:) throw just below, with the reason.
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        return (configURL, try FileHandle(forWritingTo: logURL))
    }

    /// Runs `start` on a free port, and again on another (three tries in all) when it fails with an error saying the
    /// server exited while starting: a port found free can be taken by another test before the server binds it.
    static func onFreePort<Server>(group: any EventLoopGroup, _ start: (Int) async throws -> Server) async throws -> Server {
        var attempt = 1
        while true {
            let port = try await TestBackends.freePort(group: group)
            do {
                return try await start(port)
            } catch let failure as any ExitedWhileStarting where failure.exited && attempt < 3 {
                attempt += 1
            }
        }
    }

    /// Stops `process` (SIGTERM, then waits) and removes its `directory`.
    static func stop(_ process: ChildProcess, removing directory: URL) {
        if process.isRunning {
            process.terminate()
            _ = process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }
}

/// A server's failure to start that may be a lost race for its port: `exited` when it quit while starting.
protocol ExitedWhileStarting: Error {
    var exited: Bool { get }
}

extension EnvoyServer.StartFailed: ExitedWhileStarting {}
extension NginxServer.StartFailed: ExitedWhileStarting {}
extension PrometheusServer.StartFailed: ExitedWhileStarting {}
