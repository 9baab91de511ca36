import NIOCore
import NIOHTTP1
import SerinController
import SerinCore
import SerinDemoApp
import SerinEmbedded
import SerinGateway
import SerinListener
import SerinTesting
import Testing

/// The gateway's own counters as the built-in checks' metric provider, on real requests through a real gateway
/// on 127.0.0.1.
@Suite("GatewayMetricProvider", .timeLimit(.minutes(1)))
struct GatewayMetricProviderTests {
    /// Sends `requests` GETs (4 connections) through the seed's gateway to v1 and a v2 that takes `canaryLatency`
    /// to answer, then reads the request-duration check over the last minute, which holds all of them. Also
    /// returns how long the client waited for each answer, by the version that gave it.
    static func measure(
        requests: Int, canaryLatency: Duration, halfToCanary: Bool
    ) async throws -> (reading: MetricReading?, waited: [String: [Double]]) {
        let backends = TestBackends(threads: 2)
        let v1 = try await backends.start("v1")
        let v2 = try await backends.start("v2", latency: canaryLatency)
        let runtime = try await GatewayRuntime.seed(v1: v1.port, v2: v2.port, threads: 2, halfToCanary: halfToCanary)
        // A snapshot before the traffic, so the window reaches back past all of it.
        runtime.history.record()
        let port = try #require(runtime.gateway.boundPort(forDeclared: 80))
        let waited = try await timedRequests(port: port, connections: 4, perConnection: requests / 4, group: backends.group)
        let request = AnalysisRequest(
            ticket: RolloutTicket(1), canaryName: ResourceName(name: "web"), canary: Destination(host: "web-v2-service"),
            stable: Destination(host: "web-v1-service"), canaryWeight: halfToCanary ? 50 : 0,
            metrics: [.requestDuration(maxMilliseconds: 500, interval: .seconds(60))]
        )
        let reading = await GatewayMetricProvider(history: runtime.history).samples(for: request)[metric: "request-duration"]
        await runtime.shutdown()
        await v1.close()
        await v2.close()
        await backends.shutdown()
        return (reading, waited)
    }

    /// Sequential GETs of `/` on each connection, each timed from before it is sent to its whole answer: never
    /// shorter than the gateway's own time for it (from the request's head to the response's last bytes, taken
    /// before they are flushed), however busy the machine.
    static func timedRequests(port: Int, connections: Int, perConnection: Int, group: any EventLoopGroup) async throws -> [String: [Double]] {
        try await withThrowingTaskGroup(of: [String: [Double]].self) { tasks in
            for _ in 0..<connections {
                tasks.addTask {
                    let client = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: port, group: group)
                    var waited: [String: [Double]] = [:]
                    for _ in 0..<perConnection {
                        let start = ContinuousClock.now
                        let response = try await client.send(.GET, "/", timeout: .seconds(10))
                        let elapsed = (ContinuousClock.now - start) / .milliseconds(1)
                        let version = try #require(response.header(DemoApp.versionHeader), "answer \(response.status) without a version")
                        waited[version, default: []].append(elapsed)
                    }
                    await client.close()
                    return waited
                }
            }
            var all: [String: [Double]] = [:]
            for try await waited in tasks { all.merge(waited, uniquingKeysWith: +) }
            return all
        }
    }

    /// Whether the gateway's histogram holds the same requests as the client's times, each no slower: at every
    /// bound at least as many at or under it.
    static func noSlower(_ gateway: LatencyHistogram, than client: [Double]) -> Bool {
        var waited = Histogram(bounds: gateway.bounds)
        for milliseconds in client { waited.record(milliseconds) }
        var (gatewayUpTo, clientUpTo) = (0, 0)
        for index in gateway.bounds.indices {
            gatewayUpTo += gateway.counts[index]
            clientUpTo += waited.counts[index]
            if gatewayUpTo < clientUpTo { return false }
        }
        return gateway.total == client.count
    }

    @Test("fills each side's latency histogram in Istio's buckets, every request counted once in the bucket of its duration")
    func latencyHistograms() async throws {
        let (reading, waited) = try await Self.measure(requests: 100, canaryLatency: .milliseconds(30), halfToCanary: true)
        guard case .traffic(let canary, let stable?) = reading, let canaryLatency = canary.latency, let stableLatency = stable.latency else {
            Issue.record("expected traffic with both histograms, got \(String(describing: reading))")
            return
        }
        let (v2, v1) = (waited["v2"] ?? [], waited["v1"] ?? [])
        #expect(canary.requests == v2.count && stable.requests == v1.count && v1.count + v2.count == 100, "\(waited.mapValues(\.count))")
        #expect(canaryLatency.bounds == Histogram.durationBounds && stableLatency.bounds == Histogram.durationBounds)
        #expect(canaryLatency.total == canary.requests && stableLatency.total == stable.requests)
        // v2 sleeps 30ms before it answers, so no canary request is in a bucket up to 25ms; each is in the bucket
        // of the client's time for it or one below. So every answer the client had within 50ms (all of them, on
        // a quiet machine) is in (25, 50]; a busy machine holds some longer, in the gateway as in the client.
        #expect(canaryLatency.countAbove(25) == Double(canary.requests), "\(canaryLatency.counts)")
        #expect(Self.noSlower(canaryLatency, than: v2), "gateway \(canaryLatency.counts), client \(v2.sorted())")
        let within50 = try #require(Histogram.durationBounds.firstIndex(of: 50))
        #expect(canaryLatency.counts[within50] >= v2.count(where: { $0 <= 50 }), "gateway \(canaryLatency.counts), client \(v2.sorted())")
        #expect(Self.noSlower(stableLatency, than: v1), "gateway \(stableLatency.counts), client \(v1.sorted())")
    }

    @Test("gives no latency histogram for a side that served no request in the window")
    func noRequestsNoHistogram() async throws {
        // The seed routes everything to v1 until a rollout moves weight.
        let (reading, waited) = try await Self.measure(requests: 8, canaryLatency: .zero, halfToCanary: false)
        #expect(waited.mapValues(\.count) == ["v1": 8])
        guard case .traffic(let canary, let stable?) = reading else {
            Issue.record("expected traffic, got \(String(describing: reading))")
            return
        }
        #expect(canary.requests == 0 && canary.latency == nil && canary.p99Milliseconds == nil)
        #expect(stable.latency?.total == 8)
    }
}
