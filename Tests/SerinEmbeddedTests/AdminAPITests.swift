import Foundation
import NIOCore
import NIOHTTP1
import SerinController
import SerinCore
import SerinEmbedded
import SerinGateway
import SerinListener
import SerinServer
import SerinTesting
import Testing

/// The admin API a dashboard and scripts read, against a running rollout on 127.0.0.1: events, metric
/// series with thresholds, readiness and the live event stream.
@Suite("Admin API", .timeLimit(.minutes(2)))
struct AdminAPITests {
    static func get(_ path: String, _ harness: CanaryRolloutTests.Harness) async throws -> SimpleHTTPClient.Response {
        let client = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: harness.runtime.admin.port, group: harness.backends.group)
        defer { Task { await client.close() } }
        return try await client.send(.GET, path, timeout: .seconds(20))
    }

    static func decode<T: Decodable>(_ type: T.Type, _ response: SimpleHTTPClient.Response) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(response.body))
    }

    @Test("GET /canaries/NAME/events lists the rollout's events oldest first; limit keeps the newest; a bad limit is a 400")
    func eventsEndpoint() async throws {
        try await CanaryRolloutTests.withHarness(canary: SeedManifests.canary()) { harness in
            _ = try await harness.waitFor("Succeeded") { $0.phase.isFinished }
            let all = try Self.decode([EventView].self, try await Self.get("/canaries/web/events", harness))
            #expect(all.first?.message.contains("rollout started") == true, "\(all.map(\.message))")
            #expect(all.contains { $0.message.contains("advance canary weight to 20%") })
            #expect(all.map(\.time) == all.map(\.time).sorted())
            let newest = try Self.decode([EventView].self, try await Self.get("/canaries/web/events?limit=2", harness))
            #expect(newest == Array(all.suffix(2)))
            let bad = try await Self.get("/canaries/web/events?limit=zero", harness)
            #expect(bad.status == 400)
            #expect(bad.bodyText.contains("limit must be a whole number from 1 to 1000000, got \\\"zero\\\""), "\(bad.bodyText)")
            #expect(try await Self.get("/canaries/nothing/events", harness).status == 404)
        }
    }

    @Test("GET /metrics streams the gateway's traffic, its upstream clusters and the controller's rollouts together, chunked")
    func metricsExposition() async throws {
        try await CanaryRolloutTests.withHarness(canary: SeedManifests.canary()) { harness in
            _ = try await harness.waitFor("Succeeded") { $0.phase.isFinished }
            let response = try await Self.get("/metrics", harness)
            let text = response.bodyText
            var last = text.startIndex
            for family in ["istio_requests_total", "istio_response_bytes", "serin_gateway_outlier_ejections_total", "serin_canary_weight"] {
                let found = text.range(of: "# TYPE \(family) ")
                #expect(found != nil, "no \(family) in:\n\(text)")
                if let found {
                    #expect(found.lowerBound >= last, "\(family) is out of order")
                    last = found.lowerBound
                }
            }
            // Written as it is made, so with no length known beforehand.
            #expect(response.header("transfer-encoding") == "chunked" && response.header("content-length") == nil, "\(response.headers)")
            #expect(response.header("content-type") == "text/plain; version=0.0.4; charset=utf-8")
        }
    }

    @Test("GET /canaries/NAME/metrics gives each metric's canary and stable series with its threshold, a verdict per check, and the weight over time")
    func metricsEndpoint() async throws {
        try await CanaryRolloutTests.withHarness(canary: SeedManifests.canary(successRateMin: 98.5, durationMax: 400)) { harness in
            _ = try await harness.waitFor("Succeeded") { $0.phase.isFinished }
            let metrics = try Self.decode(CanaryMetrics.self, try await Self.get("/canaries/web/metrics", harness))
            #expect(metrics.name == "web")
            let success = try #require(metrics.metrics.first { $0.name == "request-success-rate" })
            #expect(success.unit == "percent")
            #expect(success.thresholdMin == 98.5)
            #expect(success.thresholdMax == nil)
            let duration = try #require(metrics.metrics.first { $0.name == "request-duration" })
            #expect(duration.unit == "ms")
            #expect(duration.thresholdMax == 400)
            let passed = success.points.filter { $0.verdict == .pass }
            #expect(passed.count >= 2, "\(success.points)")
            #expect(passed.allSatisfy { $0.canary != nil && $0.stable != nil && $0.metric == "request-success-rate" })
            // Anything else says why: "3 requests < minRequests 5".
            #expect(success.points.filter { $0.verdict != .pass }.allSatisfy { !($0.reason ?? "").isEmpty })
            // 20%, 50%, then promotion to 100%.
            let weights = metrics.weights.map(\.canaryWeight)
            #expect(weights.contains(20) && weights.contains(50), "\(weights)")
            #expect(weights.last == 100, "\(weights)")
            #expect(metrics.weights.map(\.time) == metrics.weights.map(\.time).sorted())
        }
    }

    @Test("/readyz answers 200 once the gateway listens and the controller has its state")
    func readiness() async throws {
        try await CanaryRolloutTests.withHarness(canary: SeedManifests.canary()) { harness in
            let response = try await Self.get("/readyz", harness)
            #expect(response.status == 200)
            #expect(response.bodyText.contains("\"ready\" : true"), "\(response.bodyText)")
        }
    }

    @Test("GET /events streams rollout events, weight and phase changes as named server-sent events with increasing ids")
    func eventStream() async throws {
        try await CanaryRolloutTests.withHarness(canary: SeedManifests.canary(interval: "1s")) { harness in
            let stream = try await RawConnection.connect(port: harness.runtime.admin.port, group: harness.backends.group)
            try await stream.send("GET /events HTTP/1.1\r\nhost: test\r\naccept: text/event-stream\r\n\r\n")
            #expect(await stream.waitFor("\"phase\":\"Succeeded\"", timeout: .seconds(40)), "\(stream.received)")
            let text = stream.received
            #expect(text.lowercased().contains("content-type: text/event-stream"))
            #expect(
                text.contains(
                    "event: weights\ndata: {\"canary\":\"web\",\"canaryDestination\":\"web-v2-service:80\",\"canaryWeight\":50,\"namespace\":\"default\",\"stableDestination\":\"web-v1-service:80\",\"stableWeight\":50}\n"
                ), "\(text)")
            #expect(text.contains("event: rollout\ndata: {\"canary\":\"web\","))
            #expect(text.contains("advance canary weight to 50%"))
            #expect(text.contains("event: measurement\ndata: {\"canary\":\"web\",\"measurement\":{"))
            #expect(text.contains("\"metric\":\"request-success-rate\""))
            let ids = text.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("id: ") }.compactMap { Int($0.dropFirst(4)) }
            #expect(ids.count >= 5)
            #expect(ids == ids.sorted() && Set(ids).count == ids.count, "\(ids)")
            await stream.close()
        }
    }

    @Test("a quiet event stream gets keep-alive comments, and a client that leaves frees its subscription")
    func keepAliveAndUnsubscribe() async throws {
        try await CanaryRolloutTests.withHarness(canary: SeedManifests.canary(), eventKeepAlive: .milliseconds(200)) { harness in
            let before = await harness.controller.watcherCount
            let stream = try await RawConnection.connect(port: harness.runtime.admin.port, group: harness.backends.group)
            try await stream.send("GET /events HTTP/1.1\r\nhost: test\r\n\r\n")
            #expect(await stream.waitFor(": keep-alive\n\n", timeout: .seconds(20)))
            #expect(await eventually(.seconds(10)) { await harness.controller.watcherCount == before + 1 })
            await stream.close()
            #expect(await eventually(.seconds(20)) { await harness.controller.watcherCount == before }, "the subscription outlived its client")
        }
    }

    @Test("closing the admin listener ends an open event stream with its last chunk instead of waiting for the client")
    func closeEndsEventStream() async throws {
        try await CanaryRolloutTests.withHarness(canary: SeedManifests.canary()) { harness in
            let stream = try await RawConnection.connect(port: harness.runtime.admin.port, group: harness.backends.group)
            try await stream.send("GET /events HTTP/1.1\r\nhost: test\r\n\r\n")
            #expect(await stream.waitFor(": serin events\nretry: 2000\n\n", timeout: .seconds(20)), "\(stream.received)")
            let closing = Task { await harness.runtime.admin.close() }
            #expect(await stream.waitForClose(timeout: .seconds(20)), "the stream outlived its listener: \(stream.received)")
            #expect(stream.received.hasSuffix("0\r\n\r\n"), "\(stream.received)")
            await stream.close()
            await closing.value
        }
    }

    @Test("with an admin token, steering needs Authorization: Bearer; reads stay open")
    func tokenGuardsSteering() async throws {
        let access = AdminAccess(token: "t0ken", readRequiresToken: false)
        try await CanaryRolloutTests.withHarness(canary: SeedManifests.canary(interval: "5s"), adminAccess: access) { harness in
            _ = try await harness.waitFor("first step") { $0.canaryWeight == 20 }
            let client = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: harness.runtime.admin.port, group: harness.backends.group)
            let refused = try await client.send(.POST, "/canaries/web/pause", timeout: .seconds(20))
            #expect(refused.status == 401)
            #expect(refused.header("www-authenticate") == "Bearer realm=\"serin\"")
            #expect(refused.header("content-type") == "application/json")
            #expect(refused.bodyText.contains("\"error\" : \"POST /canaries/web/pause needs the admin token"), "\(refused.bodyText)")
            #expect(await harness.controller.status(of: harness.name)?.phase == .progressing)
            let paused = try await client.send(.POST, "/canaries/web/pause", headers: [("authorization", "Bearer t0ken")], timeout: .seconds(20))
            #expect(paused.status == 200, "\(paused.bodyText)")
            #expect(await harness.controller.status(of: harness.name)?.phase == .paused)
            #expect(try await client.send(.GET, "/canaries/web", timeout: .seconds(20)).status == 200)
            await client.close()
        }
    }

    @Test("an admin listener beyond loopback without a token refuses to start, before anything listens")
    func refusesOpenListener() async throws {
        await #expect {
            _ = try await GatewayRuntime.start(
                resources: [], threads: 1, bindHost: "127.0.0.1", portMapping: .ephemeral, adminHost: "0.0.0.0", adminPort: 0
            )
        } throws: { error in
            "\(error)".contains("--admin-token-file PATH or set SERIN_ADMIN_TOKEN")
        }
    }

    @Test("GET / serves the dashboard: one self-contained HTML page under 60 KB, no external assets, with the hooks scripts query")
    func dashboardPage() async throws {
        try await CanaryRolloutTests.withHarness(canary: SeedManifests.canary()) { harness in
            let page = try await Self.get("/", harness)
            #expect(page.status == 200)
            #expect(page.header("content-type") == "text/html; charset=utf-8")
            #expect(page.body.count < 60_000, "\(page.body.count) bytes")
            let html = page.bodyText
            #expect(html.hasPrefix("<!doctype html>"))
            for external in ["src=\"http", "href=\"http", "@import", "<link", "<script src"] {
                #expect(!html.contains(external), "the page loads \(external)… from elsewhere; it must work offline")
            }
            for hook in ["\"data-canary\"", "data-phase", "dataset.canaryWeight", "\"data-chart\"", "data-action", "api(\"/events\""] {
                #expect(html.contains(hook), "\(hook)")
            }
        }
    }

    @Test("a method a canary path does not take gets 405 with Allow; a path the API does not have gets 404 with the choices")
    func methodsAndPaths() async throws {
        try await CanaryRolloutTests.withHarness(canary: SeedManifests.canary()) { harness in
            let client = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: harness.runtime.admin.port, group: harness.backends.group)
            let getAbort = try await client.send(.GET, "/canaries/web/abort", timeout: .seconds(20))
            #expect(getAbort.status == 405)
            #expect(getAbort.header("allow") == "POST")
            let deleteStatus = try await client.send(.DELETE, "/canaries/web", timeout: .seconds(20))
            #expect(deleteStatus.status == 405)
            #expect(deleteStatus.header("allow") == "GET")
            let unknown = try await client.send(.GET, "/canaries/web/everything", timeout: .seconds(20))
            #expect(unknown.status == 404)
            #expect(unknown.bodyText.contains("after /canaries/NAME/ comes history, events, metrics, or (POST) promote"), "\(unknown.bodyText)")
            let putReady = try await client.send(.PUT, "/readyz", timeout: .seconds(20))
            #expect(putReady.status == 405)
            #expect(putReady.header("allow") == "GET")
            #expect(try JSONDecoder().decode(APIError.self, from: Data(putReady.bodyText.utf8)).error == "method PUT not allowed on /readyz; use GET")
            let elsewhere = try await client.send(.GET, "/nothing/here?x=1", timeout: .seconds(20))
            #expect(elsewhere.status == 404)
            #expect(elsewhere.header("content-type") == "application/json")
            #expect(try JSONDecoder().decode(APIError.self, from: Data(elsewhere.bodyText.utf8)).error == "not found: /nothing/here")
            // What /apply cannot read is said in the API's JSON error too, as a person reads it.
            let wrongShape = try await client.send(.POST, "/apply", body: Array(#"{"files": []}"#.utf8), timeout: .seconds(20))
            #expect(wrongShape.status == 400)
            #expect(try JSONDecoder().decode(APIError.self, from: Data(wrongShape.bodyText.utf8)).error
                == #"POST /apply expects JSON {"sources": [{"path", "text"}]}: sources is missing"#)
            await client.close()
        }
    }
}
