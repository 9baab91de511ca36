import HTTPTypes
import Hummingbird
import NIOCore
import SerinListener

/// The seed's "canarytester" web page in one version (v1, v2...), with knobs to stage a bad release.
///
/// Every response carries `x-serin-demo-version` so load generators and tests can count the split.
public struct DemoApp: Sendable {
    /// What this instance serves and how badly it behaves.
    public struct Configuration: Sendable {
        public var version: String
        /// Share of requests answered with 500, 0...1.
        public var errorRate: Double
        /// Added before every answer.
        public var latency: Duration

        public init(version: String, errorRate: Double = 0, latency: Duration = .zero) {
            self.version = version
            self.errorRate = errorRate
            self.latency = latency
        }
    }

    public let configuration: Configuration

    public init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    public static let versionHeader = "x-serin-demo-version"
    static let versionField = HTTPField.Name(versionHeader)!

    /// Answers one request: `/healthz`, `/echo` (the request as the app saw it), or the page.
    public func respond(to request: CollectedRequest) async -> Response {
        let version = configuration.version
        let versioned = HTTPFields([HTTPField(name: Self.versionField, value: version)])
        if request.path == "/healthz" {
            return .text("ok\n", headers: versioned)
        }
        if configuration.latency > .zero {
            try? await Task.sleep(for: configuration.latency)
        }
        if configuration.errorRate > 0, Double.random(in: 0..<1) < configuration.errorRate {
            return .text("\(version) failed this request (injected error)\n", status: 500, headers: versioned)
        }
        if request.path == "/echo" {
            var lines = ["\(request.method) \(request.uri)"]
            lines += request.headers.map { "\($0.name.lowercased()): \($0.value)" }
            lines.append("body-bytes: \(request.body.count)")
            return .text(lines.joined(separator: "\n") + "\n", headers: versioned)
        }
        var response = Response.content(page, contentType: "text/html; charset=utf-8")
        response.headers[Self.versionField] = version
        return response
    }

    /// The page: which version answered, big enough to see across the room.
    var page: String {
        let color = configuration.version == "v1" ? "#2b6cb0" : "#c05621"
        return """
            <!doctype html>
            <html><head><meta charset="utf-8"><title>canary \(configuration.version)</title></head>
            <body style="font-family: sans-serif; text-align: center; background: \(color); color: white">
            <h1 style="font-size: 6em; margin-top: 1em">\(configuration.version)</h1>
            <p>This is \(configuration.version) of the canary tester.</p>
            </body></html>

            """
    }

    /// Serves the app on `host:port` until the returned server is closed.
    public func serve(group: any EventLoopGroup, host: String, port: Int) async throws -> HTTPListener {
        let app = self
        return try await HTTPListener.start(host: host, port: port, group: group) { request in
            await app.respond(to: request)
        }
    }
}
