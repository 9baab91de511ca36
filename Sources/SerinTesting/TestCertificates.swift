import Foundation

/// A test CA and the server and client certificates it signs, made by `openssl` in a temporary directory: what
/// the TLS tests hand the gateway and curl. Tests using it run where openssl is installed; in CI (`CI=true`) a
/// missing openssl is a failure.
public struct TestCertificates: Sendable {
    /// A certificate and its key, as PEM files.
    public struct Pair: Sendable {
        public let certificate: String
        public let key: String

        /// Both files' text, for a Secret's `stringData`.
        public func pem() throws -> (certificate: String, key: String) {
            (try String(contentsOfFile: certificate, encoding: .utf8), try String(contentsOfFile: key, encoding: .utf8))
        }
    }

    public struct Failed: Error, CustomStringConvertible {
        public let description: String
    }

    public static let openssl = "/usr/bin/openssl"
    public static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: openssl) }
    /// CI must run the TLS tests; elsewhere they run when openssl is installed.
    public static var shouldRun: Bool { isInstalled || ProcessInfo.processInfo.environment["CI"] == "true" }

    public let directory: URL
    /// The CA certificate (PEM) every certificate here is signed by: curl's `--cacert`, a server's `caCertificates`.
    public let ca: Pair

    /// A fresh CA named `caName` in `directory` (created), by default a new temporary directory.
    public static func make(caName: String = "Serin Test CA", in directory: URL? = nil) async throws -> TestCertificates {
        guard isInstalled else { throw Failed(description: "\(openssl) is not installed (apt-get install openssl); CI=true requires it") }
        let directory = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("serin-certs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let ca = Pair(certificate: directory.appendingPathComponent("ca.crt").path, key: directory.appendingPathComponent("ca.key").path)
        try await run([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=\(caName)", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout", ca.key, "-out", ca.certificate,
        ])
        return TestCertificates(directory: directory, ca: ca)
    }

    /// A server certificate for `hosts` (the first is its subject's CN; all are DNS names in subjectAltName),
    /// signed by the CA, in files named after `name`.
    public func server(_ name: String, hosts: [String]) async throws -> Pair {
        let altNames = hosts.map { "DNS:\($0)" }.joined(separator: ",")
        return try await issue(name, subject: hosts[0], extensions: "subjectAltName=\(altNames)\nextendedKeyUsage=serverAuth\n")
    }

    /// A client certificate with common name `commonName`, signed by the CA, in files named after `name`.
    public func client(_ name: String, commonName: String) async throws -> Pair {
        try await issue(name, subject: commonName, extensions: "extendedKeyUsage=clientAuth\n")
    }

    /// A certificate for `hosts` signed by its own key, not by the CA (an address goes into subjectAltName as an IP,
    /// a name as a DNS name), in files named after `name`: what a server without a CA serves.
    public func selfSigned(_ name: String, hosts: [String]) async throws -> Pair {
        let pair = Pair(certificate: path("\(name).crt"), key: path("\(name).key"))
        let altNames = hosts.map { host in host.allSatisfy { $0.isNumber || $0 == "." || $0 == ":" } ? "IP:\(host)" : "DNS:\(host)" }
        try await Self.run([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=\(hosts[0])", "-addext", "subjectAltName=\(altNames.joined(separator: ","))",
            "-keyout", pair.key, "-out", pair.certificate,
        ])
        return pair
    }

    /// Deletes the directory and everything in it.
    public func remove() {
        try? FileManager.default.removeItem(at: directory)
    }

    private func issue(_ name: String, subject: String, extensions: String) async throws -> Pair {
        let pair = Pair(certificate: path("\(name).crt"), key: path("\(name).key"))
        let request = path("\(name).csr")
        let extensionsFile = path("\(name).ext")
        try extensions.write(toFile: extensionsFile, atomically: true, encoding: .utf8)
        try await Self.run([
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-subj", "/CN=\(subject)", "-keyout", pair.key, "-out", request,
        ])
        try await Self.run([
            "x509", "-req", "-in", request, "-CA", ca.certificate, "-CAkey", ca.key, "-CAcreateserial", "-days", "2",
            "-extfile", extensionsFile, "-out", pair.certificate,
        ])
        return pair
    }

    private func path(_ file: String) -> String { directory.appendingPathComponent(file).path }

    private static func run(_ arguments: [String]) async throws {
        let result = try await SerinProcess.run(arguments, program: URL(fileURLWithPath: openssl), timeout: .seconds(60))
        guard result.status == 0 else {
            throw Failed(description: "openssl \(arguments.prefix(2).joined(separator: " ")) failed (\(result.status)): \(result.stderr)")
        }
    }
}

/// curl as a test's TLS client: it checks certificates, sends SNI, offers client certificates and pins protocol
/// versions the way users' clients do.
public enum Curl {
    public static let path = "/usr/bin/curl"

    /// What one curl run got: the status (0 when no response came), the body, and curl's exit code and message.
    public struct Outcome: Sendable {
        public let status: Int
        public let body: String
        public let exitCode: Int32
        public let stderr: String
        /// Response header lines, lowercased names (`location: https://…`).
        public let headers: [String]

        public func header(_ name: String) -> String? {
            let prefix = name.lowercased() + ":"
            return headers.first { $0.lowercased().hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces) }
        }
    }

    /// `curl -s` `url` with `arguments` before it, resolving `host` to 127.0.0.1 on `port` for https URLs.
    public static func get(_ url: String, _ arguments: [String] = [], timeout: Duration = .seconds(30)) async throws -> Outcome {
        let marker = "\n--serin-curl-status:"
        let result = try await SerinProcess.run(
            ["-sS", "-D", "/dev/stderr", "--max-time", "20", "-w", "\(marker)%{http_code}"] + arguments + [url],
            program: URL(fileURLWithPath: path), timeout: timeout
        )
        let parts = result.stdout.components(separatedBy: marker)
        let status = parts.count > 1 ? Int(parts[parts.count - 1].trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 : 0
        let headers = result.stderr.split(whereSeparator: \.isNewline).map(String.init)
        return Outcome(status: status, body: parts[0], exitCode: result.status, stderr: result.stderr, headers: headers)
    }
}
