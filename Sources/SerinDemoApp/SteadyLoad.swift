import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import SerinHTTP

/// Steady background traffic at a target rate, as real users would send during a rollout.
///
/// Counts answers by the version that gave them, and separately the requests that failed before any
/// version answered (transport errors, 502/503 from the gateway): those are failures of the proxy,
/// not of the canary.
public final class SteadyLoad: Sendable {
    private let tally = NIOLockedValueBox(VersionTally())
    private let proxyFailures = NIOLockedValueBox<[String]>([])
    private let task: NIOLockedValueBox<Task<Void, Never>?> = NIOLockedValueBox(nil)

    public init() {}

    /// Sends about `rate` requests per second over `connections` keep-alive connections until `stop()`.
    public func start(host: String = "127.0.0.1", port: Int, path: String = "/", rate: Int, connections: Int, group: any EventLoopGroup) {
        let pause = Duration.milliseconds(max(1, 1000 * connections / max(rate, 1)))
        let tally = self.tally
        let proxyFailures = self.proxyFailures
        let running = Task {
            await withTaskGroup(of: Void.self) { tasks in
                for _ in 0..<connections {
                    tasks.addTask {
                        var client: SimpleHTTPClient?
                        while !Task.isCancelled {
                            do {
                                if client == nil || client?.isActive == false {
                                    client = try await SimpleHTTPClient.connect(host: host, port: port, group: group)
                                }
                                let response = try await client!.send(.GET, path, timeout: .seconds(10))
                                if response.header(DemoApp.versionHeader) == nil {
                                    proxyFailures.withLockedValue { $0.append("\(response.status): \(response.bodyText.prefix(120))") }
                                }
                                tally.withLockedValue { $0.add(response) }
                            } catch {
                                if Task.isCancelled { break }
                                proxyFailures.withLockedValue { $0.append("transport: \(error)") }
                                await client?.close()
                                client = nil
                            }
                            try? await Task.sleep(for: pause)
                        }
                        await client?.close()
                    }
                }
            }
        }
        task.withLockedValue { $0 = running }
    }

    /// Stops sending and waits for the connections to close.
    public func stop() async {
        let running = task.withLockedValue { current -> Task<Void, Never>? in
            defer { current = nil }
            return current
        }
        running?.cancel()
        await running?.value
    }

    /// Answers so far, by version (500s from a version count as that version's failures).
    public var counts: VersionTally { tally.withLockedValue { $0 } }

    /// Requests no version answered: what the proxy itself failed.
    public var failuresCausedByProxy: [String] { proxyFailures.withLockedValue { $0 } }
}
