import NIOCore
import NIOHTTP1
import NIOPosix
import SerinHTTP

/// Asks a Prometheus server for instant queries over its HTTP API, retrying what may pass (transport
/// errors, timeouts, 5xx) and never what will not (4xx: the query itself is wrong).
public struct PrometheusClient: PrometheusQuerying {
    /// The address as given, e.g. `http://prometheus.istio-system:9090`.
    public let address: String
    private let endpoint: PrometheusAddress?
    private let group: any EventLoopGroup
    private let timeout: Duration
    private let attempts: Int
    private let backoff: Duration

    /// - Parameters:
    ///   - address: `http://host[:port][/prefix]`; anything else makes every query fail saying so.
    ///   - timeout: bounds connecting, then bounds waiting for the response, in each attempt.
    ///   - attempts: tries per query, at least one.
    ///   - backoff: wait before the second attempt, doubled before each later one.
    public init(
        address: String, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        timeout: Duration = .seconds(5), attempts: Int = 3, backoff: Duration = .milliseconds(200)
    ) {
        self.address = address
        self.endpoint = PrometheusAddress(address)
        self.group = group
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
    }

    /// Runs `promql` as an instant query (GET `/api/v1/query`) at the server's current time.
    public func query(_ promql: String) async -> PrometheusQueryResult {
        guard let endpoint else { return .failed(badAddress) }
        let uri = endpoint.uri("/api/v1/query") + "?query=" + PrometheusAddress.percentEncoded(promql)
        switch await get(uri, endpoint: endpoint) {
        case .failure(let error):
            return .failed(error.message)
        case .success(let response) where (200..<300).contains(response.status):
            switch PrometheusResponse.parse(response.body) {
            case .failed(let reason): return .failed("Prometheus at \(endpoint.display) failed query \(promql): \(reason)")
            case let result: return result
            }
        case .success(let response):
            return .failed(
                "Prometheus at \(endpoint.display) rejected query \(promql): "
                    + "\(PrometheusResponse.errorDescription(response.body)) (HTTP \(response.status))"
            )
        }
    }

    /// Whether the server answers queries, checked as Flagger's `IsOnline` does: `vector(1)` must return 1.
    /// This proves the query API works (not just that a process listens), with the same retries as a query.
    public func isReachable() async -> Result<Void, PrometheusError> {
        switch await query("vector(1)") {
        case .value(1): return .success(())
        case .failed(let reason): return .failure(PrometheusError(reason))
        case let other:
            return .failure(PrometheusError("Prometheus at \(endpoint?.display ?? address) answered vector(1) with \(other), expected 1"))
        }
    }

    private var badAddress: String {
        "Prometheus address \"\(address)\" is not http://host[:port][/path]"
    }

    /// GETs `uri` until a response that is not 5xx, or `attempts` run out; a 5xx is returned as an error.
    private func get(_ uri: String, endpoint: PrometheusAddress) async -> Result<SimpleResponse, PrometheusError> {
        var lastError = ""
        for attempt in 1...attempts {
            if attempt > 1 {
                do {
                    try await Task.sleep(for: backoff * (1 << min(attempt - 2, 20)))
                } catch {
                    return .failure(PrometheusError("query to Prometheus at \(endpoint.display) cancelled after \(attempt - 1) attempts: \(lastError)"))
                }
            }
            do {
                let response = try await once(uri, endpoint: endpoint)
                guard response.status >= 500 else { return .success(response) }
                lastError = "HTTP \(response.status): \(PrometheusResponse.errorDescription(response.body))"
            } catch {
                lastError = "\(error)"
            }
        }
        let tries = attempts == 1 ? "1 attempt" : "\(attempts) attempts"
        return .failure(PrometheusError("Prometheus at \(endpoint.display) unreachable after \(tries): \(lastError)"))
    }

    private func once(_ uri: String, endpoint: PrometheusAddress) async throws -> SimpleResponse {
        let limit = TimeAmount.nanoseconds(Self.nanoseconds(timeout))
        let client = try await SimpleHTTPClient.connect(host: endpoint.host, port: endpoint.port, group: group, timeout: limit)
        do {
            let response = try await client.send(.GET, uri, headers: [("accept", "application/json")], timeout: limit)
            await client.close()
            return response
        } catch {
            await client.close()
            throw error
        }
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : scaled + attoseconds / 1_000_000_000
    }
}
