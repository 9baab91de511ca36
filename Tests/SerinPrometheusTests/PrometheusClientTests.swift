import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOPosix
import SerinListener
import SerinPrometheus
import SerinTesting
import Testing

/// Counts requests a test server received, and what they asked for.
actor RequestCounter {
    private(set) var uris: [String] = []
    func record(_ uri: String) { uris.append(uri) }
}

/// Holds requests until the test releases them, so a server can "never answer" without a sleep.
actor Gate {
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private var open = false

    func wait() async {
        if open { return }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        open = true
        for continuation in waiting { continuation.resume() }
        waiting = []
    }
}

@Suite("PrometheusClient against local servers")
struct PrometheusClientTests {
    let group = MultiThreadedEventLoopGroup.singleton

    func server(_ handler: @escaping @Sendable (CollectedRequest) async -> Response) async throws -> HTTPListener {
        try await TestHTTPServer.start(group: group, handler)
    }

    @Test("retries 503 up to the attempt limit, then says where and what it got")
    func retries503() async throws {
        let counter = RequestCounter()
        let server = try await server { request in
            await counter.record(request.uri)
            return .content(#"{"status":"error","errorType":"unavailable","error":"TSDB not ready"}"#, contentType: "application/json", status: 503)
        }
        let client = PrometheusClient(address: "http://127.0.0.1:\(server.port)", attempts: 3, backoff: .milliseconds(5))
        let result = await client.query("vector(1)")
        await server.close()
        #expect(result == .failed("Prometheus at http://127.0.0.1:\(server.port) unreachable after 3 attempts: HTTP 503: unavailable: TSDB not ready"))
        #expect(await counter.uris == Array(repeating: "/api/v1/query?query=vector%281%29", count: 3))
    }

    @Test("returns the answer once a retry succeeds")
    func succeedsAfterRetry() async throws {
        let counter = RequestCounter()
        let server = try await server { request in
            await counter.record(request.uri)
            if await counter.uris.count == 1 { return .text("bad gateway", status: 502) }
            return .content(RecordedResponses.vectorQuarter, contentType: "application/json")
        }
        let client = PrometheusClient(address: "http://127.0.0.1:\(server.port)/", backoff: .milliseconds(5))
        let result = await client.query("vector(0.25)")
        await server.close()
        #expect(result == .value(0.25))
        #expect(await counter.uris.count == 2)
    }

    @Test("does not retry a query the server rejects with 4xx")
    func noRetryOn4xx() async throws {
        let counter = RequestCounter()
        let server = try await server { request in
            await counter.record(request.uri)
            return .content(RecordedResponses.parseError, contentType: "application/json", status: 400)
        }
        let client = PrometheusClient(address: "http://127.0.0.1:\(server.port)/prometheus", backoff: .milliseconds(5))
        let result = await client.query("foo{")
        await server.close()
        #expect(result == .failed(
            "Prometheus at http://127.0.0.1:\(server.port)/prometheus rejected query foo{: bad_data: invalid parameter \"query\": "
                + "1:5: parse error: unexpected end of input inside braces (HTTP 400)"))
        #expect(await counter.uris == ["/prometheus/api/v1/query?query=foo%7B"])
    }

    @Test("gives up on a closed port after every attempt")
    func closedPort() async throws {
        let refusing = try RefusingPort()
        let port = refusing.port
        let client = PrometheusClient(address: "http://127.0.0.1:\(port)", attempts: 3, backoff: .milliseconds(5))
        let result = await client.query("vector(1)")
        guard case .failed(let reason) = result else {
            Issue.record("expected a failure, got \(result)")
            return
        }
        // As a person says it: SwiftNIO's own text called it a reset, with an unbalanced parenthesis.
        #expect(reason == "Prometheus at http://127.0.0.1:\(port) unreachable after 3 attempts: connection refused", "\(reason)")
        let reachable = await client.isReachable()
        guard case .failure(let error) = reachable else {
            Issue.record("expected unreachable")
            return
        }
        #expect(error.message == reason)
    }

    @Test("times out on a server that never answers, once per attempt")
    func timeout() async throws {
        let counter = RequestCounter()
        let gate = Gate()
        let server = try await server { request in
            await counter.record(request.uri)
            await gate.wait()
            return .text("too late", status: 500)
        }
        let client = PrometheusClient(
            address: "http://127.0.0.1:\(server.port)", timeout: .milliseconds(200), attempts: 2, backoff: .milliseconds(5)
        )
        let result = await client.query("vector(1)")
        await gate.release()
        await server.close()
        #expect(result == .failed("Prometheus at http://127.0.0.1:\(server.port) unreachable after 2 attempts: no response within 200ms"))
        // Each attempt reached the server; its handler may run late on a loaded machine.
        #expect(await eventually(.seconds(10)) { await counter.uris.count == 2 })
    }

    @Test(
        "refuses an address that is not http[s]://host[:port]",
        arguments: ["ftp://prometheus:9090", "prometheus:9090", "http://:9090", "http://host:http", "https://user@host"]
    )
    func badAddress(address: String) async {
        let client = PrometheusClient(address: address)
        #expect(await client.query("vector(1)") == .failed("Prometheus address \"\(address)\" is not http[s]://host[:port][/path]"))
    }

    @Test("fails on a 200 whose body is not Prometheus JSON, naming the query; the query and the body are said on one line, a log line's")
    func malformedBody() async throws {
        let server = try await server { _ in .text("<html>\n  <body>login</body>\n</html>\n") }
        let client = PrometheusClient(address: "http://127.0.0.1:\(server.port)")
        let result = await client.query("sum(\n  rate(up[1m])\n)")
        await server.close()
        #expect(result == .failed(
            "Prometheus at http://127.0.0.1:\(server.port) failed query sum( rate(up[1m]) ): malformed response, expected Prometheus API JSON: "
                + "<html> <body>login</body> </html>"))
    }
}

@Suite("Prometheus installation")
struct PrometheusInstallationTests {
    @Test("Prometheus is installed when CI is true; elsewhere its absence is printed")
    func installed() {
        let ci = ProcessInfo.processInfo.environment["CI"] == "true"
        if !PrometheusServer.isInstalled && !ci {
            print("skipping tests against a real Prometheus: \(PrometheusServer.skipReason)")
        }
        #expect(PrometheusServer.isInstalled || !ci, "CI=true but \(PrometheusServer.skipReason)")
    }
}

@Suite("PrometheusClient against a real Prometheus", .serialized, .enabled(if: PrometheusServer.shouldRun, Comment(rawValue: PrometheusServer.skipReason)))
struct RealPrometheusClientTests {
    @Test("answers vector(42), percent-encodes operators and reports the server reachable")
    func vector42() async throws {
        let prometheus = try await PrometheusServer.start(group: MultiThreadedEventLoopGroup.singleton)
        defer { prometheus.stop() }
        let client = PrometheusClient(address: prometheus.address)
        #expect(await client.query("vector(42)") == .value(42))
        // Unencoded, `+` would arrive as a space and `&` would end the parameter.
        #expect(await client.query(#"vector(1)+vector(2) and on() vector(1) + 0*count(label_replace(vector(1),"a","b&c","",""))"#) == .value(3))
        #expect(await client.query("vector(0)/0") == .notANumber)
        #expect(await client.query("up") == .noData)
        // Evaluated at the instant asked for (an analysis's queries all read one), else at the server's now.
        #expect(await client.query("time()", at: 1_700_000_000.25) == .value(1_700_000_000.25))
        guard case .value(let now) = await client.query("time()") else {
            Issue.record("time() answered no value")
            return
        }
        #expect(abs(now - Date().timeIntervalSince1970) < 60)
        let reachable = await client.isReachable()
        guard case .success = reachable else {
            Issue.record("expected reachable, got \(reachable)")
            return
        }
    }

    @Test("reports a bad query with Prometheus' message and sends it once")
    func badQuery() async throws {
        let prometheus = try await PrometheusServer.start(group: MultiThreadedEventLoopGroup.singleton)
        defer { prometheus.stop() }
        let client = PrometheusClient(address: prometheus.address, backoff: .milliseconds(5))
        #expect(await client.query("foo{") == .failed(
            "Prometheus at \(prometheus.address) rejected query foo{: bad_data: invalid parameter \"query\": "
                + "1:5: parse error: unexpected end of input inside braces (HTTP 400)"))
        // Prometheus counts what it served: exactly one 400 on the query endpoint means no retry.
        let metrics = try await Self.get("/metrics", port: prometheus.port)
        #expect(metrics.contains(#"prometheus_http_requests_total{code="400",handler="/api/v1/query"} 1"#))
    }

    static func get(_ path: String, port: Int) async throws -> String {
        let client = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: port, group: MultiThreadedEventLoopGroup.singleton)
        let response = try await client.send(.GET, path, timeout: .seconds(5))
        await client.close()
        return response.bodyText
    }
}
