import Foundation
import SerinSpawn

/// Python with scipy (PyPI: `pip install scipy`), computing statistics independently of Serin's own code so tests
/// can check SerinCore's against them. Tests that need it are skipped with a reason where it is missing and fail
/// when `CI=true`.
public enum SciPy {
    /// Whether `python3 -c "import scipy"` works here; asked once.
    public static let isInstalled: Bool = {
        guard let python, let process = try? ChildProcess.spawn(python.path, arguments: ["-c", "import scipy"]) else { return false }
        return process.waitUntilExit() == .exited(0)
    }()

    /// CI must run these tests; elsewhere they run when scipy is installed.
    public static var shouldRun: Bool { isInstalled || ProcessInfo.processInfo.environment["CI"] == "true" }
    public static let skipReason = "python3 with scipy is not installed here (pip install scipy); CI runs this"

    public struct Failed: Error, CustomStringConvertible {
        public var description: String
    }

    static var python: URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin"
        return path.split(separator: ":")
            .map { URL(fileURLWithPath: String($0)).appendingPathComponent("python3") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// Runs `script` with `input` (JSON) on its standard input and decodes what it prints (JSON) as `Output`.
    public static func evaluate<Input: Encodable, Output: Decodable>(
        _ script: String, input: Input, as output: Output.Type = Output.self
    ) async throws -> Output {
        guard isInstalled, let python else { throw Failed(description: "CI=true but \(skipReason)") }
        let directory = try SerinProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let scriptFile = directory.appendingPathComponent("reference.py")
        let inputFile = directory.appendingPathComponent("input.json")
        try script.write(to: scriptFile, atomically: true, encoding: .utf8)
        try JSONEncoder().encode(input).write(to: inputFile)
        let result = try await SerinProcess.run([scriptFile.path, inputFile.path], program: python, in: directory)
        guard result.status == 0 else { throw Failed(description: "python3 exited \(result.status): \(result.stderr)") }
        return try JSONDecoder().decode(Output.self, from: Data(result.stdout.utf8))
    }
}
