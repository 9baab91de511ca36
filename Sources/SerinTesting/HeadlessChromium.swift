import Foundation
import NIOCore
import NIOHTTP1
import SerinSpawn
import Synchronization

/// A real headless Chromium (Debian's `chromium` package) with a temporary profile, driven over the
/// DevTools protocol on 127.0.0.1. Tests that need it are skipped with a reason when it is not installed
/// and fail when `CI=true`.
public final class HeadlessChromium: Sendable {
    /// Where Debian and Ubuntu install it.
    public static let candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
    public static var binary: String? { candidates.first { FileManager.default.isExecutableFile(atPath: $0) } }
    /// CI must run these tests; elsewhere they run when Chromium is installed.
    public static var shouldRun: Bool { binary != nil || ProcessInfo.processInfo.environment["CI"] == "true" }
    /// The reason printed when these tests are skipped locally.
    public static let skipReason = "Chromium is not installed at \(candidates.joined(separator: " or ")) (apt-get install chromium); CI runs this"

    private let process: ChildProcess
    private let profile: URL
    private let output: ChromiumOutput
    /// The page every call drives.
    public let page: DevToolsConnection

    private init(process: ChildProcess, profile: URL, output: ChromiumOutput, page: DevToolsConnection) {
        self.process = process
        self.profile = profile
        self.output = output
        self.page = page
    }

    public struct StartFailed: Error, CustomStringConvertible {
        public let description: String
    }

    /// Launches Chromium on `about:blank` and connects to its page.
    public static func start(group: any EventLoopGroup, timeout: Duration = .seconds(60)) async throws -> HeadlessChromium {
        guard let binary else { throw StartFailed(description: skipReason) }
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("serin-chromium-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: profile, withIntermediateDirectories: true)
        let output = ChromiumOutput()
        let stderr = Pipe()
        // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        let process = try ChildProcess.spawn(
            binary,
            arguments: [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "--user-data-dir=\(profile.path)", "about:blank",
            ],
            stderr: .descriptor(stderr.fileHandleForWriting.fileDescriptor)
        )
        try? stderr.fileHandleForWriting.close()
        // Drained for the whole life of the process, so Chromium never blocks on a full pipe.
        PipeDrain.start(stderr) { output.append($0) }
        do {
            let browserURL = try await waitForDevTools(output, process: process, timeout: timeout)
            let page = try await DevToolsConnection.connect(to: try await pageURL(browserURL: browserURL, group: group), group: group)
            return HeadlessChromium(process: process, profile: profile, output: output, page: page)
        } catch {
            process.terminate()
            try? FileManager.default.removeItem(at: profile)
            throw error
        }
    }

    /// The `ws://` URL Chromium prints on stderr once it listens: `DevTools listening on ws://...`.
    private static func waitForDevTools(_ output: ChromiumOutput, process: ChildProcess, timeout: Duration) async throws -> URL {
        var found: URL?
        let listening = await eventually(timeout) {
            found = output.devToolsURL
            return found != nil || !process.isRunning
        }
        guard listening, let found else {
            throw StartFailed(description: "Chromium did not open DevTools within \(timeout)" + (process.isRunning ? "" : " (it exited)")
                + ": \(output.tail)")
        }
        return found
    }

    /// The WebSocket of the first page target, from the DevTools HTTP endpoint's `/json/list`.
    private static func pageURL(browserURL: URL, group: any EventLoopGroup) async throws -> String {
        guard let host = browserURL.host, let port = browserURL.port else { throw StartFailed(description: "bad DevTools URL \(browserURL)") }
        var targets: [Target] = []
        _ = await eventually(.seconds(20)) {
            guard let client = try? await SimpleHTTPClient.connect(host: host, port: port, group: group) else { return false }
            defer { Task { await client.close() } }
            guard let response = try? await client.send(.GET, "/json/list", timeout: .seconds(5)) else { return false }
            targets = (try? JSONDecoder().decode([Target].self, from: Data(response.body))) ?? []
            return targets.contains { $0.type == "page" }
        }
        guard let page = targets.first(where: { $0.type == "page" }) else { throw StartFailed(description: "Chromium shows no page target") }
        return page.webSocketDebuggerUrl
    }

    struct Target: Decodable {
        var type: String
        var webSocketDebuggerUrl: String
    }

    /// Closes the connection, ends Chromium and removes its profile.
    public func stop() async {
        await page.close()
        process.terminate()
        _ = await eventually(.seconds(20)) { !self.process.isRunning }
        // Chromium's helper processes outlive the browser by a moment and may still write into the profile, so
        // one removal can leave a directory behind (a test run left one in /tmp each time): removed until gone.
        _ = await eventually(.seconds(10)) {
            try? FileManager.default.removeItem(at: self.profile)
            return !FileManager.default.fileExists(atPath: self.profile.path)
        }
    }
}

/// What Chromium wrote on stderr: kept until the DevTools URL shows, then only a tail for error messages.
final class ChromiumOutput: Sendable {
    private let text = Mutex("")

    func append(_ data: Data) {
        guard !data.isEmpty else { return }
        text.withLock { text in
            text += String(decoding: data, as: UTF8.self)
            if text.count > 64 << 10 { text = String(text.suffix(16 << 10)) }
        }
    }

    var devToolsURL: URL? {
        text.withLock { text in
            guard let range = text.range(of: "DevTools listening on ") else { return nil }
            let rest = text[range.upperBound...]
            guard let end = rest.firstIndex(where: \.isNewline) else { return nil }
            return URL(string: String(rest[..<end]))
        }
    }

    var tail: String { text.withLock { String($0.suffix(2000)) } }
}
