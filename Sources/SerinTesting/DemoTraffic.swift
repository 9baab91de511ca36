import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import SerinDemoApp

/// Demo traffic in bursts: requests over several keep-alive connections, tallied by the version that answered.
///
/// Tests use it to prove that reconfiguring under load fails no request: each connection is its own, so a
/// connection the gateway dropped shows as a failure instead of being retried on another.
public enum DemoTraffic {
    /// Runs `requestsPerConnection` sequential GETs on each of `connections` connections; with `until`, each goes on
    /// after that many until the flag is set, so the load is sure to outlast what a test does meanwhile.
    public static func run(
        host: String = "127.0.0.1", port: Int, path: String = "/", connections: Int, requestsPerConnection: Int,
        group: any EventLoopGroup, headers: [(name: String, value: String)] = [], until stop: NIOLockedValueBox<Bool>? = nil
    ) async throws -> VersionTally {
        try await withThrowingTaskGroup(of: VersionTally.self) { tasks in
            for _ in 0..<connections {
                tasks.addTask {
                    var tally = VersionTally()
                    var client = try await SimpleHTTPClient.connect(host: host, port: port, group: group)
                    var sent = 0
                    while sent < requestsPerConnection || stop?.withLockedValue({ $0 }) == false {
                        sent += 1
                        do {
                            tally.add(try await client.send(.GET, path, headers: headers, timeout: .seconds(10)))
                        } catch {
                            tally.failures.append("transport: \(error)")
                            await client.close()
                            client = try await SimpleHTTPClient.connect(host: host, port: port, group: group)
                        }
                    }
                    await client.close()
                    return tally
                }
            }
            var total = VersionTally()
            for try await tally in tasks {
                total.counts.merge(tally.counts, uniquingKeysWith: +)
                total.failures += tally.failures
            }
            return total
        }
    }
}

extension VersionTally {
    /// One answer of the demo app, or of the gateway in front of it.
    mutating func add(_ response: SimpleHTTPClient.Response) {
        add(status: response.status, version: response.header(DemoApp.versionHeader), body: response.bodyText)
    }
}
