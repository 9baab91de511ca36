import Foundation
import SerinSpawn
import Testing

/// The launcher behind every program Serin starts: what the child gets, and how its end is reported.
@Suite("Child processes")
struct ChildProcessTests {
    /// Runs `/bin/sh -c script` to the end; its stdout and how it ended.
    static func shell(_ script: String, directory: String? = nil, environment: [String: String]? = nil) throws -> (String, ChildProcess.Termination) {
        let out = Pipe()
        let child = try ChildProcess.spawn(
            "/bin/sh", arguments: ["-c", script], directory: directory, environment: environment,
            stdout: .descriptor(out.fileHandleForWriting.fileDescriptor)
        )
        try out.fileHandleForWriting.close()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (text, child.waitUntilExit())
    }

    @Test("the child inherits no descriptor but its three standard streams, so no pipe of ours stays open in it")
    func onlyStandardStreams() throws {
        // Descriptors of ours that are not close-on-exec: a child that kept them would hold our pipes open.
        let stray = Pipe()
        defer { try? stray.fileHandleForReading.close(); try? stray.fileHandleForWriting.close() }
        let (text, ended) = try Self.shell("ls /proc/$$/fd")
        #expect(ended == .exited(0))
        #expect(text.split(separator: "\n").sorted() == ["0", "1", "2"], "\(text)")
    }

    @Test("runs in the directory and with the environment given, and reports the exit status")
    func directoryEnvironmentAndStatus() throws {
        let (text, ended) = try Self.shell("pwd; echo \"$GREETING\"; exit 3", directory: "/tmp", environment: ["GREETING": "hello"])
        #expect(text == "/tmp\nhello\n")
        #expect(ended == .exited(3))
        #expect(ended.status == 3)
    }

    @Test("a child ended by a signal says which; a program that does not exist is an error naming it")
    func signalsAndMissingPrograms() throws {
        let child = try ChildProcess.spawn("/bin/sleep", arguments: ["30"])
        #expect(child.isRunning)
        child.terminate()
        #expect(child.waitUntilExit() == .signalled(SIGTERM))
        #expect(child.waitUntilExit().status == 128 + SIGTERM)
        #expect(!child.isRunning)
        #expect(throws: ChildProcess.LaunchFailed.self) { try ChildProcess.spawn("/nonexistent/program", arguments: []) }
    }
}
