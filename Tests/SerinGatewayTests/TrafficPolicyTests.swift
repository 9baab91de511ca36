import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import SerinCore
import SerinGateway
import SerinListener
import SerinTesting
import Testing

/// A DestinationRule's `trafficPolicy` enforced by the real gateway against real backends on 127.0.0.1:
/// connection pool limits (circuit breaking) and outlier detection.
@Suite("DestinationRule traffic policy on the gateway", .timeLimit(.minutes(2)))
struct TrafficPolicyTests {
    static let route = "  - route: [{destination: {host: web-v1-service}}]"

    static func rule(_ policy: String) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: web-v1}
        spec:
          host: web-v1-service
          trafficPolicy:
        \(policy)
        """
    }

    /// Every request to web-v1-service, its one endpoint at `port`, its DestinationRule's `trafficPolicy` as `policy` says.
    static func table(_ policy: String, backend port: Int) throws -> RouteTable {
        try RoutePolicyTests.table(routes: route, services: ["web-v1-service": [port]], more: rule(policy))
    }

    static func client(_ gateway: GatewayServer, _ backends: TestBackends) async throws -> SimpleHTTPClient {
        try await SimpleHTTPClient.connect(
            host: "127.0.0.1", port: try #require(gateway.boundPort(forDeclared: 80)), group: backends.group
        )
    }

    @Test(
        "maxConnections 1 and http1MaxPendingRequests 1: one request upstream at a time, one waits, the next gets 503 UO at once and keeps its connection",
        arguments: [1, 2]
    )
    func connectionPoolLimits(threads: Int) async throws {
        let backends = TestBackends()
        let backend = try await ObservedBackend.start(group: backends.group)
        backend.hold()
        let policy = "    connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 1}}"
        let table = try RoutePolicyTests.table(routes: Self.route, services: ["web-v1-service": [backend.port]], more: Self.rule(policy))
        try await RoutePolicyTests.withGateway(table, group: backends, threads: threads) { gateway, first in
            let second = try await Self.client(gateway, backends)
            let third = try await Self.client(gateway, backends)
            async let firstAnswer = first.send(.GET, "/", timeout: .seconds(20))
            #expect(await eventually(.seconds(20)) { backend.heldRequests == 1 })
            async let secondAnswer = second.send(.GET, "/", timeout: .seconds(20))
            let pending = "serin_gateway_upstream_pending_requests{cluster_name=\"outbound|80||web-v1-service\"} 1"
            #expect(await eventually(.seconds(20)) { GatewayAdmin.metricsText(gateway).contains(pending) })
            // The second request waits in the gateway; the third finds the queue full.
            let rejected = try await third.send(.GET, "/", timeout: .seconds(20))
            #expect(rejected.status == 503)
            #expect(rejected.bodyText.contains("upstream overflow"), "\(rejected.bodyText)")
            #expect(rejected.bodyText.contains("outbound|80||web-v1-service"))
            #expect(rejected.header("connection") != "close", "a bodyless request's 503 UO keeps its connection, as Envoy's does")
            #expect(backend.requests == 1, "the waiting request must not reach the backend while the only connection is busy")
            backend.release()
            let answers = try await (firstAnswer.status, secondAnswer.status)
            #expect(answers == (200, 200))
            #expect(backend.requests == 2)
            #expect(RoutePolicyTests.flags(gateway).contains("503 UO"))
            // With the queue empty again, the limit admits the next request, on the connection the 503 answered.
            let afterwards = try await third.send(.GET, "/", timeout: .seconds(20)).status
            #expect(afterwards == 200)
            await second.close()
            await third.close()
        }
        await backend.close()
        await backends.shutdown()
    }

    @Test(
        "maxRetries 1, or a retry budget whose share of 2 requests in flight is under 2: while one request is retrying, another's failed attempt is its answer (not retried) and counts as a retry overflow; without a limit, or with a budget that allows 2, it is retried",
        arguments: [
            (policy: "    connectionPool: {http: {maxRetries: 1}}", retried: false, overflows: 1),
            // No limit: nothing to overflow, and no overflow line for the cluster.
            (policy: "    connectionPool: {http: {maxRetries: 0}}", retried: true, overflows: nil),
            (policy: "    retryBudget: {percent: 0, minRetryConcurrency: 1}", retried: false, overflows: 1),
            (policy: "    retryBudget: {percent: 49, minRetryConcurrency: 1}", retried: false, overflows: 1),
            (policy: "    retryBudget: {percent: 100, minRetryConcurrency: 1}", retried: true, overflows: 0),
            (policy: "    retryBudget: {percent: 0, minRetryConcurrency: 2}", retried: true, overflows: 0),
            // The budget takes the place of maxRetries, as Envoy's retry_budget overrides max_retries.
            (policy: "    connectionPool: {http: {maxRetries: 1}}\n    retryBudget: {}", retried: true, overflows: 0),
        ] as [(String, Bool, Int?)]
    )
    func retryLimit(policy: String, retried: Bool, overflows: Int?) async throws {
        let backends = TestBackends()
        // `/held` fails its first attempt and never answers its retry, which so stays outstanding; `/failing` always fails.
        let heldAttempts = NIOLockedValueBox(0)
        let backend = try await ScriptedBackend.start(group: backends.group) { received in
            guard received.contains("\r\n\r\n") else { return nil }
            if received.hasPrefix("GET /held ") {
                let attempt = heldAttempts.withLockedValue { count in
                    count += 1
                    return count
                }
                if attempt > 1 { return nil }
            }
            return ScriptedBackend.Answer("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n")
        }
        let route = "  - route: [{destination: {host: web-v1-service}}]\n    retries: {attempts: 2, retryOn: 5xx}\n    timeout: 2s"
        let table = try RoutePolicyTests.table(routes: route, services: ["web-v1-service": [backend.port]], more: Self.rule(policy))
        let failingAttempts = { backend.received.split(separator: "GET /failing ", omittingEmptySubsequences: false).count - 1 }
        try await RoutePolicyTests.withGateway(table, group: backends) { gateway, first in
            async let held = first.send(.GET, "/held", timeout: .seconds(20))
            #expect(await eventually(.seconds(20)) { heldAttempts.withLockedValue { $0 } == 2 }, "the held request's retry never went out")
            let second = try await Self.client(gateway, backends)
            let failed = try await second.send(.GET, "/failing", timeout: .seconds(20))
            #expect(failed.status == 503)
            #expect(failingAttempts() == (retried ? 3 : 1), "\(failingAttempts()) attempts of /failing with \(policy)")
            // The held request ends at its route timeout; from then on nothing is retrying, and a failure is retried again.
            #expect(try await held.status == 504)
            let third = try await Self.client(gateway, backends)
            #expect(try await third.send(.GET, "/failing", timeout: .seconds(20)).status == 503)
            #expect(failingAttempts() == (retried ? 6 : 4), "\(failingAttempts()) attempts of /failing once the held request ended")
            let overflowLine = "serin_gateway_upstream_retry_overflow_total{cluster_name=\"outbound|80||web-v1-service\"} "
            let metrics = GatewayAdmin.metricsText(gateway)
            if let overflows {
                #expect(metrics.contains(overflowLine + "\(overflows)\n"), "\(metrics)")
            } else {
                #expect(!metrics.contains(overflowLine), "\(metrics)")
            }
            await second.close()
            await third.close()
        }
        await backend.close()
        await backends.shutdown()
    }

    @Test("a request that times out while waiting for a connection answers 504 and gives its place in the queue back")
    func waitingRequestTimesOut() async throws {
        let backends = TestBackends()
        let backend = try await ObservedBackend.start(group: backends.group)
        backend.hold()
        let policy = "    connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 1}}"
        let table = try RoutePolicyTests.table(
            routes: """
                  - match: [{uri: {prefix: /held}}]
                    route: [{destination: {host: web-v1-service}}]
                  - route: [{destination: {host: web-v1-service}}]
                    timeout: 500ms
                """,
            services: ["web-v1-service": [backend.port]], more: Self.rule(policy)
        )
        try await RoutePolicyTests.withGateway(table, group: backends) { gateway, first in
            async let firstAnswer = first.send(.GET, "/held", timeout: .seconds(20))
            #expect(await eventually(.seconds(20)) { backend.heldRequests == 1 })
            for _ in 0..<2 {
                // Each waits alone in the queue, so neither is an overflow; each times out there.
                let waiting = try await Self.client(gateway, backends)
                let answer = try await waiting.send(.GET, "/", timeout: .seconds(20))
                #expect(answer.status == 504)
                #expect(answer.bodyText.contains("upstream request timeout"), "\(answer.bodyText)")
                await waiting.close()
            }
            let empty = "serin_gateway_upstream_pending_requests{cluster_name=\"outbound|80||web-v1-service\"} 0"
            #expect(GatewayAdmin.metricsText(gateway).contains(empty))
            #expect(!RoutePolicyTests.flags(gateway).contains("503 UO"))
            #expect(backend.requests == 1)
            backend.release()
            _ = try? await firstAnswer
        }
        await backend.close()
        await backends.shutdown()
    }

    @Test("maxRequestsPerConnection 1 opens a new upstream connection per request; without it one keep-alive connection serves all")
    func maxRequestsPerConnection() async throws {
        let backends = TestBackends()
        let limited = try await ObservedBackend.start(group: backends.group)
        let unlimited = try await ObservedBackend.start(group: backends.group)
        let routes = """
              - match: [{uri: {prefix: /limited}}]
                route: [{destination: {host: web-v1-service}}]
              - route: [{destination: {host: web-v2-service}}]
            """
        let table = try RoutePolicyTests.table(
            routes: routes, services: ["web-v1-service": [limited.port], "web-v2-service": [unlimited.port]],
            more: Self.rule("    connectionPool: {http: {maxRequestsPerConnection: 1}}")
        )
        try await RoutePolicyTests.withGateway(table, group: backends) { _, client in
            for _ in 0..<4 {
                let limitedStatus = try await client.send(.GET, "/limited").status
                let otherStatus = try await client.send(.GET, "/other").status
                #expect(limitedStatus == 200 && otherStatus == 200)
            }
        }
        #expect(limited.acceptedConnections == 4)
        #expect(unlimited.acceptedConnections == 1)
        await limited.close()
        await unlimited.close()
        await backends.shutdown()
    }

    @Test(
        "idleTimeout closes an upstream connection left idle that long; tcp.idleTimeout stands in when http's is not set, as in Istio",
        arguments: ["{http: {idleTimeout: 1s}}", "{tcp: {idleTimeout: 1s}}", "{tcp: {idleTimeout: 1h}, http: {idleTimeout: 1s}}"]
    )
    func idleTimeout(pool: String) async throws {
        let backends = TestBackends()
        let backend = try await ObservedBackend.start(group: backends.group)
        let table = try RoutePolicyTests.table(
            routes: Self.route, services: ["web-v1-service": [backend.port]],
            more: Self.rule("    connectionPool: \(pool)")
        )
        try await RoutePolicyTests.withGateway(table, group: backends) { gateway, client in
            let first = try await client.send(.GET, "/")
            #expect(first.status == 200)
            #expect(backend.acceptedConnections == 1)
            #expect(await eventually(.seconds(20)) { backend.openConnections == 0 }, "the idle connection outlived its idleTimeout")
            #expect(await gateway.idleUpstreamConnectionCount() == 0)
            // The next request opens a fresh connection.
            let second = try await client.send(.GET, "/")
            #expect(second.status == 200)
            #expect(backend.acceptedConnections == 2)
        }
        await backend.close()
        await backends.shutdown()
    }

    @Test("tcp.connectTimeout gives up on an endpoint that never completes the handshake, long before the gateway's default")
    func connectTimeout() async throws {
        let backends = TestBackends()
        let silent = try SilentPort()
        let table = try RoutePolicyTests.table(
            routes: "  - route: [{destination: {host: web-v1-service}}]\n    retries: {attempts: 0}",
            services: ["web-v1-service": [silent.port]],
            more: Self.rule("    connectionPool: {tcp: {connectTimeout: 300ms}}")
        )
        var limits = GatewayLimits.default
        limits.upstreamConnectTimeout = .seconds(60)
        try await RoutePolicyTests.withGateway(table, group: backends, limits: limits) { gateway, client in
            let started = ContinuousClock.now
            let response = try await client.send(.GET, "/")
            #expect(response.status == 503)
            #expect(response.bodyText.contains("upstream connect error"), "\(response.bodyText)")
            #expect(ContinuousClock.now - started < .seconds(30), "the answer came from the 300ms connectTimeout, not the 60 s default")
            #expect(RoutePolicyTests.flags(gateway).contains("503 UF"))
        }
        await backends.shutdown()
    }

    @Test("requests each on a connection of its own are spread round-robin over the endpoints, as those on one keep-alive connection are", arguments: [1, 2])
    func roundRobinAcrossConnections(threads: Int) async throws {
        let backends = TestBackends()
        let endpoints = [try await backends.start("a"), try await backends.start("b"), try await backends.start("c")]
        let table = try RoutePolicyTests.table(
            routes: "  - route: [{destination: {host: web-v1-service}}]", services: ["web-v1-service": endpoints.map(\.port)])
        try await RoutePolicyTests.withGateway(table, group: backends, threads: threads) { gateway, _ in
            let port = try #require(gateway.boundPort(forDeclared: 80))
            var answeredBy: [String: Int] = [:]
            for _ in 0..<30 {
                let client = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: port, group: backends.group)
                let body = try await client.send(.GET, "/", headers: [("connection", "close")], timeout: .seconds(10)).bodyText
                await client.close()
                let version = ["a", "b", "c"].first { body.contains("This is \($0)") } ?? "?"
                answeredBy[version, default: 0] += 1
            }
            // One loop takes turns exactly; two take turns each, whichever loop a connection lands on.
            if threads == 1 {
                #expect(answeredBy == ["a": 10, "b": 10, "c": 10], "\(answeredBy)")
            } else {
                #expect(answeredBy.keys.sorted() == ["a", "b", "c"] && answeredBy.values.allSatisfy { $0 >= 5 }, "\(answeredBy)")
            }
        }
        for endpoint in endpoints { await endpoint.close() }
        await backends.shutdown()
    }

    @Test("outlier detection ejects an endpoint after consecutive 5xx: the healthy one takes all traffic, the metric says so")
    func outlierEjection() async throws {
        let backends = TestBackends()
        let healthy = try await backends.start("v1")
        let failing = try await backends.start("v1", errorRate: 1)
        let policy = "    outlierDetection: {consecutive5xxErrors: 3, interval: 1s, baseEjectionTime: 5m, maxEjectionPercent: 100}"
        let table = try RoutePolicyTests.table(
            routes: "  - route: [{destination: {host: web-v1-service}}]\n    retries: {attempts: 0}",
            services: ["web-v1-service": [healthy.port, failing.port]], more: Self.rule(policy)
        )
        try await RoutePolicyTests.withGateway(table, group: backends) { gateway, client in
            var statuses: [Int] = []
            for _ in 0..<6 { statuses.append(try await client.send(.GET, "/").status) }
            // Round robin: the failing endpoint answers every other request until its third 500 ejects it.
            #expect(statuses.filter { $0 == 500 }.count == 3, "\(statuses)")
            for _ in 0..<20 {
                let status = try await client.send(.GET, "/").status
                #expect(status == 200)
            }
            let metrics = GatewayAdmin.metricsText(gateway)
            #expect(metrics.contains("serin_gateway_outlier_ejections_total{cluster_name=\"outbound|80||web-v1-service\"} 1"))
            #expect(metrics.contains("serin_gateway_outlier_ejections_active{cluster_name=\"outbound|80||web-v1-service\"} 1"))
        }
        await healthy.close()
        await failing.close()
        await backends.shutdown()
    }

    @Test("splitExternalLocalOriginErrors: an endpoint refusing connections is ejected after consecutiveLocalOriginFailures, while one answering 500 is not, with the 5xx streak off")
    func localOriginEjection() async throws {
        let backends = TestBackends()
        let healthy = try await backends.start("v1")
        let failing = try await backends.start("v1", errorRate: 1)
        let dead = try await backends.freePort()
        let policy = "    outlierDetection: {consecutive5xxErrors: 0, splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 2, "
            + "interval: 1s, baseEjectionTime: 5m, maxEjectionPercent: 100}"
        let table = try RoutePolicyTests.table(
            routes: "  - route: [{destination: {host: web-v1-service}}]\n    retries: {attempts: 0}",
            services: ["web-v1-service": [healthy.port, failing.port, dead]], more: Self.rule(policy)
        )
        try await RoutePolicyTests.withGateway(table, group: backends) { gateway, client in
            var statuses: [Int] = []
            for _ in 0..<30 { statuses.append(try await client.send(.GET, "/").status) }
            #expect(statuses.filter { $0 == 503 }.count == 2, "two connects refused, then the endpoint is out: \(statuses)")
            #expect(statuses.suffix(20).allSatisfy { $0 != 503 }, "\(statuses)")
            #expect(statuses.filter { $0 == 500 }.count >= 10, "the endpoint answering 500 stays in: \(statuses)")
            let metrics = GatewayAdmin.metricsText(gateway)
            #expect(metrics.contains("serin_gateway_outlier_ejections_total{cluster_name=\"outbound|80||web-v1-service\"} 1"), "\(metrics)")
        }
        await healthy.close()
        await failing.close()
        await backends.shutdown()
    }

    @Test("with every endpoint ejected the gateway answers 503 UH and says why; minHealthPercent turns that into panic routing")
    func everyEndpointEjected() async throws {
        let backends = TestBackends()
        let failing = try await backends.start("v1", errorRate: 1)
        for (minHealth, expected) in [(0, 503), (50, 500)] {
            let policy =
                "    outlierDetection: {consecutive5xxErrors: 2, baseEjectionTime: 5m, maxEjectionPercent: 100, minHealthPercent: \(minHealth)}"
            let table = try RoutePolicyTests.table(
                routes: "  - route: [{destination: {host: web-v1-service}}]\n    retries: {attempts: 0}",
                services: ["web-v1-service": [failing.port]], more: Self.rule(policy)
            )
            try await RoutePolicyTests.withGateway(table, group: backends) { gateway, client in
                let first = try await client.send(.GET, "/").status
                let second = try await client.send(.GET, "/").status
                #expect(first == 500 && second == 500)
                let after = try await client.send(.GET, "/")
                #expect(after.status == expected, "minHealthPercent \(minHealth)")
                if expected == 503 {
                    #expect(after.bodyText.contains("every endpoint of outbound|80||web-v1-service is ejected by outlier detection"))
                    #expect(RoutePolicyTests.flags(gateway).contains("503 UH"))
                }
            }
        }
        await failing.close()
        await backends.shutdown()
    }

    @Test("tcp.maxConnectionDuration: an upstream connection serves requests until it is that old, then the next request opens another, and an idle one closes at that age")
    func maxConnectionDuration() async throws {
        let backends = TestBackends()
        let backend = try await ObservedBackend.start(group: backends.group)
        let table = try RoutePolicyTests.table(
            routes: Self.route, services: ["web-v1-service": [backend.port]],
            more: Self.rule("    connectionPool: {tcp: {maxConnectionDuration: 800ms}}")
        )
        try await RoutePolicyTests.withGateway(table, group: backends) { gateway, client in
            let opened = ContinuousClock.now
            for _ in 0..<3 {
                let response = try await client.send(.GET, "/")
                #expect(response.status == 200)
            }
            // Young, the connection is reused (unless a starved machine took the 800ms over the three requests).
            let young = ContinuousClock.now - opened < .milliseconds(700)
            if young { #expect(backend.acceptedConnections == 1, "young, the connection is reused") }
            #expect(await eventually(.seconds(10)) { backend.openConnections == 0 }, "the idle connection outlived its maxConnectionDuration")
            #expect(ContinuousClock.now - opened >= .milliseconds(700))
            let later = try await client.send(.GET, "/")
            #expect(later.status == 200)
            if young { #expect(backend.acceptedConnections == 2) }
        }
        await backend.close()
        await backends.shutdown()
    }

    @Test("tcp.tcpKeepalive turns TCP keepalive on for the cluster's upstream connections with its time, as the kernel's timers show; without it they have none")
    func tcpKeepalive() async throws {
        let backends = TestBackends()
        let kept = try await ObservedBackend.start(group: backends.group)
        let plain = try await ObservedBackend.start(group: backends.group)
        let routes = """
              - match: [{uri: {prefix: /plain}}]
                route: [{destination: {host: plain-service}}]
              - route: [{destination: {host: web-v1-service}}]
            """
        let table = try RoutePolicyTests.table(
            routes: routes, services: ["web-v1-service": [kept.port], "plain-service": [plain.port]],
            more: Self.rule("    connectionPool: {tcp: {tcpKeepalive: {time: 7s, interval: 3s, probes: 4}}}")
        )
        try await RoutePolicyTests.withGateway(table, group: backends) { _, client in
            let (first, second) = (try await client.send(.GET, "/"), try await client.send(.GET, "/plain"))
            #expect(first.status == 200 && second.status == 200)
            // Each idle upstream connection, as /proc/net/tcp lists it by its remote port: timer 2 is keepalive, due in
            // clock ticks (100 a second): at most the 7s asked for. The kernel walks its tables page by page as they
            // are read, so a socket that moves meanwhile can be missed: read again until both are there.
            var timers: [Int: (kind: Int, ticks: Int)] = [:]
            let listed = await eventually(.seconds(5)) {
                for port in [kept.port, plain.port] where timers[port] == nil { timers[port] = Self.timer(ofConnectionTo: port) }
                return timers.count == 2
            }
            #expect(listed, "\(timers)")
            let keptTimer = try #require(timers[kept.port])
            #expect(keptTimer.kind == 2 && keptTimer.ticks > 300 && keptTimer.ticks <= 700, "\(keptTimer)")
            let plainTimer = try #require(timers[plain.port])
            #expect(plainTimer.kind == 0, "\(plainTimer)")
        }
        await kept.close()
        await plain.close()
        await backends.shutdown()
    }

    /// The kernel's pending timer (kind and ticks left) on the established connection to `port` on 127.0.0.1.
    /// Both tables are read, in case the socket is an IPv6 one with 127.0.0.1 mapped (`::ffff:127.0.0.1`).
    static func timer(ofConnectionTo port: Int) -> (kind: Int, ticks: Int)? {
        let remote = String(format: "0100007F:%04X", port)
        let tables = ["/proc/net/tcp", "/proc/net/tcp6"].compactMap(Self.readProcFile)
        for line in tables.flatMap({ $0.split(separator: "\n").dropFirst() }) {
            let fields = line.split(separator: " ")
            guard fields.count > 5, fields[2].hasSuffix(remote), fields[3] == "01" else { continue }
            let timer = fields[5].split(separator: ":")
            guard timer.count == 2, let kind = Int(timer[0], radix: 16), let ticks = Int(timer[1], radix: 16) else { return nil }
            return (kind, ticks)
        }
        return nil
    }

    /// All of a /proc file: the kernel hands it over a page of whole lines per read, and it reports no size, so it is
    /// read until a read returns nothing (one read would stop at the first page).
    static func readProcFile(_ path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        var bytes = Data()
        while let chunk = try? handle.read(upToCount: 65536), !chunk.isEmpty { bytes.append(chunk) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
