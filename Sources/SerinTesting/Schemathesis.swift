import Foundation

/// schemathesis (PyPI: `pip install schemathesis`), which fuzzes an HTTP API from its OpenAPI document and
/// checks every answer against it. Tests that need it are skipped with a reason when it is not on PATH and
/// fail when `CI=true`.
public enum Schemathesis {
    public static var executable: URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin"
        return path.split(separator: ":")
            .map { URL(fileURLWithPath: String($0)).appendingPathComponent("schemathesis") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// CI must run these tests; elsewhere they run when schemathesis is installed.
    public static var shouldRun: Bool { executable != nil || ProcessInfo.processInfo.environment["CI"] == "true" }
    public static let skipReason = "schemathesis is not on PATH (pip install schemathesis); CI runs this"

    public struct NotInstalled: Error, CustomStringConvertible {
        public var description: String { "CI=true but \(Schemathesis.skipReason)" }
    }

    /// Runs `schemathesis run` against the document at `baseURL/openapi.json`, sending requests to `baseURL`
    /// only, with `configuration` (TOML) as its config file; what it printed and its exit status.
    public static func run(
        baseURL: String, arguments: [String], configuration: String, timeout: Duration = .seconds(300)
    ) async throws -> SerinProcess.Result {
        guard let executable else { throw NotInstalled() }
        let directory = try SerinProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("schemathesis.toml")
        try configuration.write(to: config, atomically: true, encoding: .utf8)
        return try await SerinProcess.run(
            ["--config-file", config.path, "run", "\(baseURL)/openapi.json", "--url", baseURL, "--report-dir", directory.path] + arguments,
            // Its caches go to the temporary directory, not the repository.
            program: executable, in: directory, timeout: timeout
        )
    }
}
