import AsyncHTTPClient
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOSSL

/// Steady background traffic at a target rate, as real users would send during a rollout.
///
/// Counts answers by the version that gave them, and separately the requests that failed before any
/// version answered (transport errors, 502/503 from the gateway): those are failures of the proxy,
/// not of the canary.
public final class SteadyLoad: Sendable {
    private let tally = NIOLockedValueBox(VersionTally())
    private let proxyFailures = NIOLockedValueBox<[String]>([])
    private let running: NIOLockedValueBox<(task: Task<Void, Never>, client: HTTPClient)?> = NIOLockedValueBox(nil)
    /// Set by `stop()`: each sender finishes the request it has in flight, then stops. (Cancelling would cut
    /// requests mid-answer, which the gateway rightly counts as clients gone away.)
    private let stopping = NIOLockedValueBox(false)

    public init() {}

    /// Sends about `rate` requests per second over `connections` keep-alive connections until `stop()`; `authority`,
    /// when given, is the `Host` each request names (a service, as clients of the mesh listener send it). With `tls`
    /// the requests go over https with that client configuration.
    public func start(
        host: String = "127.0.0.1", port: Int, path: String = "/", authority: String? = nil, rate: Int, connections: Int,
        group: any EventLoopGroup, tls: TLSConfiguration? = nil
    ) {
        let pause = Duration.milliseconds(max(1, 1000 * connections / max(rate, 1)))
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = connections
        // A gateway that is down counts as a failure now, not after reconnecting until the deadline.
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.tlsConfiguration = tls
        let client = HTTPClient(eventLoopGroup: group, configuration: configuration)
        let url = "\(tls == nil ? "http" : "https")://\(host):\(port)\(path)"
        let tally = self.tally
        let proxyFailures = self.proxyFailures
        let stopping = self.stopping
        stopping.withLockedValue { $0 = false }
        let task = Task {
            await withTaskGroup(of: Void.self) { senders in
                for _ in 0..<connections {
                    senders.addTask {
                        while !stopping.withLockedValue({ $0 }) {
                            do {
                                var request = HTTPClientRequest(url: url)
                                if let authority { request.headers.replaceOrAdd(name: "host", value: authority) }
                                let response = try await client.execute(request, timeout: .seconds(10))
                                let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
                                let version = response.headers.first(name: DemoApp.versionHeader)
                                if version == nil {
                                    proxyFailures.withLockedValue { $0.append("\(response.status.code): \(body.prefix(120))") }
                                }
                                tally.withLockedValue { $0.add(status: Int(response.status.code), version: version, body: body) }
                            } catch {
                                // Sent and never answered: counted among the requests, as a failure of the proxy.
                                proxyFailures.withLockedValue { $0.append("transport: \(error)") }
                                tally.withLockedValue { $0.failures.append("transport: \(error)") }
                            }
                            try? await Task.sleep(for: pause)
                        }
                    }
                }
            }
        }
        running.withLockedValue { $0 = (task, client) }
    }

    /// Stops sending and waits for the connections to close.
    public func stop() async {
        let current = running.withLockedValue { current in
            defer { current = nil }
            return current
        }
        guard let (task, client) = current else { return }
        stopping.withLockedValue { $0 = true }
        await task.value
        try? await client.shutdown()
    }

    /// Requests so far, by the version that answered (500s from a version count as that version's failures, and
    /// requests no version answered as failures too: `failuresCausedByProxy` lists those).
    public var counts: VersionTally { tally.withLockedValue { $0 } }

    /// Requests no version answered: what the proxy itself failed.
    public var failuresCausedByProxy: [String] { proxyFailures.withLockedValue { $0 } }
}
