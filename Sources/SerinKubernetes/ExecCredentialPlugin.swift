import Foundation
import SerinCore
import SerinSpawn

/// A kubeconfig `exec` credential plugin (`aws eks get-token`, `gke-gcloud-auth-plugin`, `kubelogin`...): a
/// command that prints an `ExecCredential` with a token. Its token is kept until it expires, so the plugin
/// runs once per token, not once per request.
public actor ExecCredentialPlugin {
    /// The `exec` block of a kubeconfig user.
    public struct Configuration: Sendable, Equatable {
        public var command: String
        public var arguments: [String]
        public var environment: [String: String]
        public var apiVersion: String

        public init(command: String, arguments: [String] = [], environment: [String: String] = [:], apiVersion: String) {
            self.command = command
            self.arguments = arguments
            self.environment = environment
            self.apiVersion = apiVersion
        }
    }

    /// Why no token came out.
    public struct Failure: Error, CustomStringConvertible, Equatable {
        public let message: String
        public init(message: String) { self.message = message }
        public var description: String { message }
    }

    public let configuration: Configuration
    private let timeout: Duration
    private var cached: (token: String, expires: Date?)?

    public init(_ configuration: Configuration, timeout: Duration = .seconds(30)) {
        self.configuration = configuration
        self.timeout = timeout
    }

    /// A token: the cached one while it is more than `margin` from expiring, else a fresh one from the plugin.
    /// A token without an expiry is kept until `invalidate()` (a 401 from the API server).
    public func token(now: Date = Date(), margin: TimeInterval = 10) async throws -> String {
        if let cached, cached.expires.map({ $0.timeIntervalSince(now) > margin }) ?? true { return cached.token }
        let output = try await run()
        let credential = try Self.parse(output, command: configuration.command)
        cached = credential
        return credential.token
    }

    /// Forgets the cached token, so the next call runs the plugin again.
    public func invalidate() { cached = nil }

    /// `status.token` and `status.expirationTimestamp` of an ExecCredential.
    static func parse(_ output: Data, command: String) throws -> (token: String, expires: Date?) {
        struct Credential: Decodable {
            struct Status: Decodable {
                var token: String?
                var expirationTimestamp: String?
            }
            var kind: String?
            var status: Status?
        }
        let credential: Credential
        do {
            credential = try JSONDecoder().decode(Credential.self, from: output)
        } catch {
            throw Failure(message: "exec plugin \(command) printed no ExecCredential JSON: \(String(decoding: output.prefix(200), as: UTF8.self))")
        }
        guard credential.kind == "ExecCredential", let token = credential.status?.token, !token.isEmpty else {
            throw Failure(message: "exec plugin \(command) printed an ExecCredential without status.token (client certificates from plugins are not supported)")
        }
        var expires: Date?
        if let text = credential.status?.expirationTimestamp {
            guard let date = RFC3339.unixSeconds(text).map(Date.init(timeIntervalSince1970:)) else {
                throw Failure(message: "exec plugin \(command): expirationTimestamp \"\(text)\" is not an RFC 3339 time")
            }
            expires = date
        }
        return (token, expires)
    }

    private func run() async throws -> Data {
        let configuration = self.configuration
        let seconds = timeout.inSeconds
        return try await withCheckedThrowingContinuation { continuation in
            // The child's pipes and its wait block: they run on a Dispatch thread, never on Swift's cooperative pool.
            DispatchQueue.global().async {
                // A bare command name is looked up on PATH by env, as kubectl does.
                let (executable, arguments) =
                    configuration.command.contains("/")
                    ? (configuration.command, configuration.arguments)
                    : ("/usr/bin/env", [configuration.command] + configuration.arguments)
                var environment = ProcessInfo.processInfo.environment.merging(configuration.environment) { $1 }
                environment["KUBERNETES_EXEC_INFO"] =
                    #"{"apiVersion":"\#(configuration.apiVersion)","kind":"ExecCredential","spec":{"interactive":false}}"#
                let output = Pipe()
                let errors = Pipe()
                let process: ChildProcess
                do {
                    process = try ChildProcess.spawn(
                        executable, arguments: arguments, environment: environment,
                        stdout: .descriptor(output.fileHandleForWriting.fileDescriptor),
                        stderr: .descriptor(errors.fileHandleForWriting.fileDescriptor)
                    )
                } catch {
                    continuation.resume(throwing: Failure(message: "exec plugin \(configuration.command) could not start: \(error)"))
                    return
                }
                try? output.fileHandleForWriting.close()
                try? errors.fileHandleForWriting.close()
                let killer = DispatchWorkItem { process.terminate() }
                DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: killer)
                let errorData = Locked(Data())
                let errorReader = DispatchWorkItem { errorData.set(errors.fileHandleForReading.readDataToEndOfFile()) }
                DispatchQueue.global().async(execute: errorReader)
                let data = output.fileHandleForReading.readDataToEndOfFile()
                let termination = process.waitUntilExit()
                errorReader.wait()
                killer.cancel()
                guard termination == .exited(0) else {
                    let stderr = String(decoding: errorData.get(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                    let how: String
                    switch termination {
                    case .exited(127): how = "was not found (exit status 127)"
                    case .exited(let status): how = "exited with status \(status)"
                    case .signalled: how = "was stopped after \(Int(seconds)) s"
                    }
                    continuation.resume(
                        throwing: Failure(message: "exec plugin \(configuration.command) \(how)" + (stderr.isEmpty ? "" : ": \(stderr)"))
                    )
                    return
                }
                continuation.resume(returning: data)
            }
        }
    }
}

/// A value shared between two Dispatch threads.
private final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func set(_ new: Value) { lock.withLock { value = new } }
    func get() -> Value { lock.withLock { value } }
}
