import Foundation
import NIOCore
import SerinSpawn

/// A real nginx (Debian's `nginx`) on 127.0.0.1 whose one listener takes the PROXY protocol (`listen … proxy_protocol`,
/// versions 1 and 2) and answers every request with what the header told it: `CLIENT_ADDRESS CLIENT_PORT
/// SERVER_ADDRESS SERVER_PORT`. The backend a user puts behind a gateway that sends the PROXY protocol. Locally its
/// tests are skipped with a reason when nginx is not installed; in CI (`CI=true`) a missing nginx is a failure.
public final class NginxServer: @unchecked Sendable {
    // The process handle and paths are set once in `start` and only read afterwards.
    private let process: ChildProcess
    private let directory: URL
    public let port: Int

    private init(process: ChildProcess, directory: URL, port: Int) {
        self.process = process
        self.directory = directory
        self.port = port
    }

    /// The `nginx` executable: on PATH, or where Debian puts it (`/usr/sbin`, not on every user's PATH).
    public static let binary: String? = ChildServer.onPath("nginx")
        ?? (FileManager.default.isExecutableFile(atPath: "/usr/sbin/nginx") ? "/usr/sbin/nginx" : nil)

    public static var isInstalled: Bool { binary != nil }
    /// CI must run these tests; elsewhere they run when nginx is installed.
    public static var shouldRun: Bool { ChildServer.shouldRun(installed: isInstalled) }

    public struct NotInstalled: Error, CustomStringConvertible {
        public var description: String { "nginx is not installed (apt-get install nginx); CI=true requires it" }
    }

    public struct StartFailed: Error, CustomStringConvertible {
        public let reason: String
        /// nginx exited while starting (most often: the port was taken).
        public var exited = false
        public var description: String { "nginx did not start: \(reason)" }
    }

    /// Starts nginx on a free port, in the foreground and one process (no master, so nothing runs as another
    /// user), its files in a directory of its own, and waits until it accepts connections. `http2`: the listener
    /// speaks HTTP/2 with prior knowledge (h2c) instead of HTTP/1.1. `/slow` answers 32 KiB at 16 KiB/s; every
    /// other path, the PROXY header's addresses and ports, with nginx's number for the connection in `x-connection`.
    /// `proxyProtocol: false`: a plain listener, whose answers name no addresses. `requestsPerConnection`: nginx's
    /// `keepalive_requests`, after which it ends a connection (over HTTP/2 with a GOAWAY).
    public static func start(
        group: any EventLoopGroup, http2: Bool = false, proxyProtocol: Bool = true, requestsPerConnection: Int = 1000
    ) async throws -> NginxServer {
        try await ChildServer.onFreePort(group: group) { port in
            try await start(port: port, http2: http2, proxyProtocol: proxyProtocol, requestsPerConnection: requestsPerConnection, group: group)
        }
    }

    private static func start(
        port: Int, http2: Bool, proxyProtocol: Bool, requestsPerConnection: Int, group: any EventLoopGroup
    ) async throws -> NginxServer {
        guard let binary else { throw NotInstalled() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("serin-nginx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let files = directory.path
        let config = """
            daemon off;
            master_process off;
            error_log \(files)/error.log;
            pid \(files)/nginx.pid;
            events { worker_connections 64; }
            http {
              access_log off;
              client_body_temp_path \(files)/body;
              proxy_temp_path \(files)/proxy;
              fastcgi_temp_path \(files)/fastcgi;
              uwsgi_temp_path \(files)/uwsgi;
              scgi_temp_path \(files)/scgi;
              keepalive_requests \(requestsPerConnection);
              server {
                listen 127.0.0.1:\(port)\(http2 ? " http2" : "")\(proxyProtocol ? " proxy_protocol" : "");
                default_type text/plain;
                location = /slow {
                  limit_rate 16k;
                  alias \(files)/slow.txt;
                }
                location / {
                  add_header x-connection $connection;
                  return 200 "$proxy_protocol_addr $proxy_protocol_port $proxy_protocol_server_addr $proxy_protocol_server_port\\n";
                }
              }
            }
            """
        // 32 KiB served at 16 KiB/s: a request that holds its connection for a second or two.
        try String(repeating: "slow\n", count: 32 * 1024 / 5).write(toFile: "\(files)/slow.txt", atomically: true, encoding: .utf8)
        let (configURL, log) = try ChildServer.prepare(in: directory, config: config, configName: "nginx.conf", logName: "nginx.log")
        defer { try? log.close() }
        let process = try ChildProcess.spawn(
            binary, arguments: ["-c", configURL.path, "-p", files, "-e", "\(files)/error.log"],
            stdout: .descriptor(log.fileDescriptor), stderr: .descriptor(log.fileDescriptor)
        )
        let server = NginxServer(process: process, directory: directory, port: port)
        // Accepting connections is all it takes: a request without a PROXY header would only be refused.
        let readiness = try await ChildServer.poll(
            port: port, process: process, log: directory.appendingPathComponent("error.log"), lines: 3, timeout: .seconds(30), group: group
        ) { _ in true }
        switch readiness {
        case .ready: return server
        case .exited(let status, let last):
            server.stop()
            throw StartFailed(reason: "nginx exited with status \(status)\(last)", exited: true)
        case .timedOut:
            server.stop()
            throw StartFailed(reason: "not accepting connections within 30s")
        }
    }

    /// What nginx logged so far (its `error_log`): what a failed test says alongside its expectation.
    public var errorLog: String {
        (try? String(contentsOf: directory.appendingPathComponent("error.log"), encoding: .utf8)) ?? ""
    }

    /// Stops nginx (SIGTERM, then waits) and removes its files.
    public func stop() {
        ChildServer.stop(process, removing: directory)
    }
}
