import NIOCore
import NIOHTTP1
import SerinHTTP


/// Steady demo traffic: requests over several keep-alive connections, tallied by the version that answered.
///
/// `serin demo` drives the gateway with it, and tests use it to prove that reconfiguring under
/// load fails no request.
public enum DemoTraffic {
    /// Runs `requestsPerConnection` sequential GETs on each of `connections` connections.
    public static func run(
        host: String = "127.0.0.1", port: Int, path: String = "/", connections: Int, requestsPerConnection: Int,
        group: any EventLoopGroup, headers: [(name: String, value: String)] = []
    ) async throws -> VersionTally {
        try await withThrowingTaskGroup(of: VersionTally.self) { tasks in
            for _ in 0..<connections {
                tasks.addTask {
                    var tally = VersionTally()
                    var client = try await SimpleHTTPClient.connect(host: host, port: port, group: group)
                    for _ in 0..<requestsPerConnection {
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

/// Counts how often each demo version answered.
public struct VersionTally: Sendable, Equatable, CustomStringConvertible {
    public var counts: [String: Int] = [:]
    public var failures: [String] = []

    public init() {}

    public mutating func add(_ response: SimpleResponse) {
        if response.status == 200, let version = response.header(DemoApp.versionHeader) {
            counts[version, default: 0] += 1
        } else {
            failures.append("\(response.status): \(response.bodyText.prefix(200))")
        }
    }

    public var total: Int { counts.values.reduce(0, +) + failures.count }

    public var description: String {
        counts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            + (failures.isEmpty ? "" : " failures=\(failures.count)")
    }
}
