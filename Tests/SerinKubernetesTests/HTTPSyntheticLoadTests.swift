import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SerinController
import SerinCore
import SerinListener
import SerinTesting
import SerinWebhooks
import Testing

/// `analysis.load` in Kubernetes mode: the controller paces plain HTTP requests to the canary's and the stable's
/// Services (here two real servers on 127.0.0.1 standing in for them), never faster than the plan, and stops when told.
@Suite("Synthetic load over HTTP", .timeLimit(.minutes(1)))
struct HTTPSyntheticLoadTests {
    @Test("the Service address is the destination's cluster DNS name in the Canary's namespace, and its port")
    func serviceAddress() {
        let canary = ResourceName(namespace: "shop", name: "web")
        #expect(HTTPSyntheticRequests.serviceAddress(Destination(host: "web-v2-service", port: 8080), of: canary)
            == "http://web-v2-service.shop.svc.cluster.local:8080")
        #expect(HTTPSyntheticRequests.serviceAddress(Destination(host: "web.other.svc.cluster.local"), of: canary)
            == "http://web.other.svc.cluster.local:80")
    }

    @Test("both destinations get the plan's path and headers, no more requests than the plan allows, and nothing once stopped")
    func pacedAndStopped() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let seen = NIOLockedValueBox<[String: [String]]>([:])
        func server(_ name: String) async throws -> Int {
            try await TestHTTPServer.start(group: group) { request in
                seen.withLockedValue { $0[name, default: []].append("\(request.path) \(request.header("x-load-test") ?? "-") \(request.header("user-agent") ?? "-")") }
                return .text("ok\n")
            }.port
        }
        let ports = ["web-v2-service": try await server("canary"), "web-v1-service": try await server("stable")]
        let sender = CountingSender(HTTPSyntheticRequests { destination, _ in "http://127.0.0.1:\(ports[destination.host] ?? 9)" })
        let load = PacedSyntheticLoad(sender: sender, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let name = ResourceName(namespace: "shop", name: "web")
        let plan = LoadPlan(
            canaryName: name, canary: Destination(host: "web-v2-service"), stable: Destination(host: "web-v1-service"),
            load: SyntheticLoad(rps: 50, path: "/healthz", headers: ["x-load-test": "serin"], duration: .milliseconds(400)),
            interval: .seconds(1), duration: .milliseconds(400))
        let started = ContinuousClock.now
        await load.start(plan)
        #expect(await eventually(.seconds(20)) { seen.withLockedValue { ($0["canary"]?.count ?? 0) >= 5 && ($0["stable"]?.count ?? 0) >= 5 } })
        await load.stop(name)
        #expect(await !load.isSending(for: name))
        let elapsed = ContinuousClock.now - started
        // Requests sent before the stop may still be on their way (a loaded machine delays them by seconds); once
        // they are all in, none follows.
        let sentBeforeStop = sender.sent.withLockedValue { $0 }
        #expect(await eventually(.seconds(20)) { seen.withLockedValue { $0.values.reduce(0) { $0 + $1.count } } >= sentBeforeStop })
        try await Task.sleep(for: .seconds(1.5))
        let atStop = seen.withLockedValue { $0 }
        #expect(sender.sent.withLockedValue { $0 } == sentBeforeStop, "nothing is sent after stop")
        #expect(atStop.values.reduce(0) { $0 + $1.count } == sentBeforeStop, "every request sent arrives, once")
        let intervals = Int(elapsed.components.seconds) + 1
        for name in ["canary", "stable"] {
            let requests = atStop[name] ?? []
            #expect(requests.allSatisfy { $0 == "/healthz serin serin-load" }, "\(Set(requests))")
            #expect(requests.count <= plan.requestsPerInterval * intervals, "\(requests.count) in \(intervals) intervals")
        }
        try await group.shutdownGracefully()
    }
}

/// A sender that counts what it sends, so a test knows how many requests left before a stop.
private struct CountingSender<Inner: SyntheticRequestSender>: SyntheticRequestSender {
    let inner: Inner
    let sent = NIOLockedValueBox(0)

    init(_ inner: Inner) { self.inner = inner }

    func target(for destination: Destination, of canary: ResourceName) -> Inner.Target? {
        inner.target(for: destination, of: canary)
    }

    func send(to target: Inner.Target, path: String, headers: [(String, String)]) {
        sent.withLockedValue { $0 += 1 }
        inner.send(to: target, path: path, headers: headers)
    }
}
