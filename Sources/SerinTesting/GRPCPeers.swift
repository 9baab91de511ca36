import Foundation
import SerinSpawn

/// A real gRPC server and client for the tests: Python's grpcio (PyPI) running scripts/grpc/echo_server.py and
/// client.py, which call `/serin.test.Echo/Say` with generic handlers (no generated stubs).
public enum GRPCPeers {
    public static let python = ChildServer.onPath("python3") ?? "/usr/bin/python3"

    /// Whether grpcio imports; probed once.
    public static let isInstalled: Bool = {
        guard let process = try? ChildProcess.spawn(python, arguments: ["-c", "import grpc"]) else {
            return false
        }
        return process.waitUntilExit().status == 0
    }()

    /// CI must run these tests; elsewhere they run when grpcio is installed.
    public static var shouldRun: Bool { ChildServer.shouldRun(installed: isInstalled) }
    public static let skipReason = "Python's grpcio is not installed (pip3 install grpcio); CI runs this"

    static func script(_ name: String) -> URL {
        SerinProcess.repositoryRoot.appendingPathComponent("scripts/grpc/\(name)")
    }

    /// A running echo server: answers as `version`, or fails every call with `failing` (a grpc.StatusCode name).
    public final class Server: Sendable {
        public let port: Int
        let process: SerinProcess.Running

        init(port: Int, process: SerinProcess.Running) {
            self.port = port
            self.process = process
        }

        public func stop() async { await process.kill(SIGTERM) }
    }

    /// `diesMidAnswer`: the server sends a call's initial metadata, then exits, as a server that crashes mid-answer.
    public static func startServer(
        version: String, failing: String? = nil, diesMidAnswer: Bool = false, delay: Duration = .zero
    ) async throws -> Server {
        var arguments = [script("echo_server.py").path, "--version", version]
        if delay > .zero { arguments += ["--delay", seconds(delay)] }
        if let failing { arguments += ["--fail", failing] }
        if diesMidAnswer { arguments.append("--die-mid-answer") }
        let process = try SerinProcess.launch(arguments, program: URL(fileURLWithPath: python))
        guard await process.waitForOutput("PORT ", timeout: .seconds(60)),
            let line = process.printed.split(separator: "\n").first(where: { $0.hasPrefix("PORT ") }),
            let port = Int(line.dropFirst(5).trimmingCharacters(in: .whitespaces))
        else {
            await process.kill()
            throw GRPCPeerFailure(message: "the gRPC echo server did not start: \(process.printed)")
        }
        return Server(port: port, process: process)
    }

    /// A duration as the scripts' options take it: seconds, with a fraction.
    private static func seconds(_ duration: Duration) -> String {
        "\(Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)"
    }

    /// What one call got, as client.py prints it.
    public struct Outcome: Decodable, Sendable {
        public let code: String
        public let details: String
        public let body: String
        public let initial: [String: String]
        public let trailing: [String: String]
    }

    /// One call to `target` (`127.0.0.1:port`) with `:authority` `authority` (empty: the target's); through `proxy`
    /// (`http://127.0.0.1:port`) when one is given, which grpc opens a CONNECT tunnel to `target` on.
    public static func call(
        target: String, authority: String, message: String = "hello", proxy: String? = nil, cancelAfter: Duration? = nil
    ) async throws -> Outcome {
        let result = try await SerinProcess.run(
            [script("client.py").path, "call", "--target", target, "--authority", authority, "--message", message]
                + (proxy.map { ["--proxy", $0] } ?? [])
                + (cancelAfter.map { ["--cancel-after", seconds($0)] } ?? []),
            program: URL(fileURLWithPath: python), timeout: .seconds(60)
        )
        guard let line = result.stdout.split(separator: "\n").last, let data = line.data(using: .utf8),
            let outcome = try? JSONDecoder().decode(Outcome.self, from: data)
        else { throw GRPCPeerFailure(message: "client.py printed no outcome: \(result.stdout) \(result.stderr)") }
        return outcome
    }

    /// A steady stream of calls at `rate` a second until `stop()`, which says how many ended with each code.
    public final class Load: Sendable {
        let process: SerinProcess.Running

        init(process: SerinProcess.Running) {
            self.process = process
        }

        public func stop() async throws -> [String: Int] {
            process.signal(SIGTERM)
            // One that does not end is killed, so a failed test leaves no client calling on after it.
            let exited = await process.waitForExit(timeout: .seconds(60)) != nil
            if !exited { await process.kill() }
            let text = await process.outputText()
            struct Counts: Decodable { let codes: [String: Int] }
            guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("{") }), let data = line.data(using: .utf8),
                let counts = try? JSONDecoder().decode(Counts.self, from: data)
            else { throw GRPCPeerFailure(message: "client.py load printed no counts\(exited ? "" : " (it did not end within 60 s of SIGTERM)"): \(text)") }
            return counts.codes
        }
    }

    public static func startLoad(target: String, authority: String, rate: Int = 50, seconds: Int = 300) throws -> Load {
        let process = try SerinProcess.launch(
            [
                script("client.py").path, "load", "--target", target, "--authority", authority, "--rate", String(rate),
                "--seconds", String(seconds),
            ],
            program: URL(fileURLWithPath: python)
        )
        return Load(process: process)
    }
}

public struct GRPCPeerFailure: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// nghttp2's h2load (Debian's `nghttp2-client`), the HTTP/2 load generator the tests and the bench run.
public enum H2Load {
    public static let path = "/usr/bin/h2load"
    /// CI must run these tests; elsewhere they run when h2load is installed.
    public static var shouldRun: Bool { ChildServer.shouldRun(installed: FileManager.default.isExecutableFile(atPath: path)) }
    public static let skipReason = "h2load is not installed (apt-get install nghttp2-client); CI runs this"
}
