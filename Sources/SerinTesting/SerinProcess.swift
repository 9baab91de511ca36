import Foundation
import SerinManifests
import SerinSpawn
import Synchronization

/// Runs the built `serin` executable as a user would, from the repository root.
public enum SerinProcess {
    /// The repository root, found from this source file's location.
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `.build/<config>/serin`, next to the test executable.
    public static var executable: URL {
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return testBinary.deletingLastPathComponent().appendingPathComponent("serin")
    }

    /// What a finished command printed and returned.
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs `serin arguments...` (or another `program`, in `directory`) to completion (killed after `timeout`), with
    /// `environment` added to ours. With `stdoutReaderGone`, standard output is a pipe nobody reads any more, as in
    /// `serin history web | head -1` once `head` has exited: `stdout` is then empty.
    public static func run(
        _ arguments: [String], program: URL? = nil, in directory: URL? = nil, environment: [String: String] = [:],
        timeout: Duration = .seconds(120), stdoutReaderGone: Bool = false
    ) async throws -> Result {
        let out = Pipe()
        let err = Pipe()
        if stdoutReaderGone { try out.fileHandleForReading.close() }
        let process = try ChildProcess.spawn(
            (program ?? executable).path, arguments: arguments, directory: (directory ?? repositoryRoot).path,
            environment: environment.isEmpty ? nil : ProcessInfo.processInfo.environment.merging(environment) { $1 },
            stdout: .descriptor(out.fileHandleForWriting.fileDescriptor), stderr: .descriptor(err.fileHandleForWriting.fileDescriptor)
        )
        // The child has its copies; ours closed, the reads below end when the child does.
        try? out.fileHandleForWriting.close()
        try? err.fileHandleForWriting.close()
        // Drain both pipes concurrently so a chatty command never blocks on a full pipe. The reads block,
        // so they run on threads of their own: blocking Swift's cooperative pool (two threads on two cores)
        // would stall every other test.
        async let stdout = stdoutReaderGone ? Data() : readToEnd(out)
        async let stderr = readToEnd(err)
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline {
                process.terminate()
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        while process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        return Result(
            status: process.termination?.status ?? -1,
            stdout: String(decoding: await stdout, as: UTF8.self),
            stderr: String(decoding: await stderr, as: UTF8.self)
        )
    }

    /// A `serin` process left running (e.g. `serin up`), killed by the test.
    public final class Running: Sendable {
        private let process: ChildProcess
        private let output: ProcessOutput

        public var isRunning: Bool { process.isRunning }
        /// The process's id, as the process itself reports it.
        public var pid: Int32 { process.pid }

        init(process: ChildProcess, output: ProcessOutput) {
            self.process = process
            self.output = output
        }

        /// Sends `signal` (SIGKILL to simulate a crash) and waits for the process to end, without blocking
        /// a thread of the cooperative pool.
        public func kill(_ signal: Int32 = SIGKILL) async {
            process.signal(signal)
            _ = await waitForExit(timeout: .seconds(60))
        }

        /// Sends `signal` and returns at once.
        public func signal(_ signal: Int32) {
            process.signal(signal)
        }

        /// Waits, off the cooperative pool, until the process ends; its exit status, or nil after `timeout`.
        public func waitForExit(timeout: Duration = .seconds(30)) async -> Int32? {
            let deadline = ContinuousClock.now + timeout
            while process.isRunning {
                guard ContinuousClock.now < deadline else { return nil }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return process.termination?.status
        }

        /// What it has printed so far (stdout and stderr).
        public var printed: String { output.text }

        /// Waits until it has printed `text` (stdout or stderr); false if it has not within `timeout`.
        public func waitForOutput(_ text: String, timeout: Duration = .seconds(60)) async -> Bool {
            await eventually(timeout) { self.output.text.contains(text) }
        }

        /// Everything it printed (stdout and stderr) once it has ended; while it runs, what it printed so far, at once
        /// (waiting for the end of a running process's output would only wait out the timeout).
        public func outputText() async -> String {
            _ = await eventually(.seconds(10)) { self.output.ended || self.process.isRunning }
            return output.text
        }
    }

    /// Starts `serin arguments...` (or another `program`) and returns at once.
    public static func launch(_ arguments: [String], program: URL? = nil) throws -> Running {
        let pipe = Pipe()
        let output = ProcessOutput()
        let process = try ChildProcess.spawn(
            (program ?? executable).path, arguments: arguments, directory: repositoryRoot.path,
            stdout: .descriptor(pipe.fileHandleForWriting.fileDescriptor), stderr: .descriptor(pipe.fileHandleForWriting.fileDescriptor)
        )
        try? pipe.fileHandleForWriting.close()
        // Read as it comes, so a test can wait for a line while it runs.
        PipeDrain.start(pipe) { output.append($0) }
        return Running(process: process, output: output)
    }

    private static func readToEnd(_ pipe: Pipe) async -> Data {
        let collected = Mutex(Data())
        return await withCheckedContinuation { continuation in
            PipeDrain.start(pipe) { chunk in
                if chunk.isEmpty {
                    continuation.resume(returning: collected.withLock { $0 })
                } else {
                    collected.withLock { $0.append(chunk) }
                }
            }
        }
    }

    /// A fresh temporary directory for manifests a test writes, removed with the others when the test process
    /// exits.
    public static func temporaryDirectory() throws -> URL {
        let url = temporaryRoot.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A fresh temporary directory holding `sources`, each under its file name: what `-f DIRECTORY` reads.
    public static func temporaryDirectory(holding sources: [ManifestSource]) throws -> URL {
        let directory = try temporaryDirectory()
        for source in sources {
            let name = (source.path as NSString).lastPathComponent
            try source.text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return directory
    }

    /// The parent of this process's temporary directories: `serin-tests-PID`. Made on first use, when the
    /// parents that processes no longer running left behind (a run killed before it could exit) are removed too.
    private static let temporaryRoot: URL = {
        let base = FileManager.default.temporaryDirectory
        let prefix = "serin-tests-"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: base.path)) ?? [] where name.hasPrefix(prefix) {
            guard let pid = pid_t(name.dropFirst(prefix.count)) else { continue }
            if pid == getpid() || (kill(pid, 0) != 0 && errno == ESRCH) {
                try? FileManager.default.removeItem(at: base.appendingPathComponent(name))
            }
        }
        atexit { SerinProcess.removeTemporaryRoot() }
        return base.appendingPathComponent("\(prefix)\(getpid())")
    }()

    private static func removeTemporaryRoot() {
        try? FileManager.default.removeItem(at: temporaryRoot)
    }
}

/// What a running process printed so far, and whether its output has ended.
final class ProcessOutput: Sendable {
    private let state = Mutex((text: "", ended: false))

    /// Appends a chunk; an empty one is the end of the output.
    func append(_ data: Data) {
        state.withLock { state in
            if data.isEmpty { state.ended = true } else { state.text += String(decoding: data, as: UTF8.self) }
        }
    }

    var text: String { state.withLock { $0.text } }
    var ended: Bool { state.withLock { $0.ended } }
}
