import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import SerinCore
import SerinSystem

/// Asks a Prometheus server for instant queries over its HTTP API, retrying what may pass (transport
/// errors, timeouts, 5xx) and never what will not (4xx: the query itself is wrong).
///
/// On AsyncHTTPClient: `http://` and `https://` addresses, with a path prefix; connections kept and reused
/// between queries through one shared client; a MetricTemplate's credentials as `Authorization`.
public struct PrometheusClient: PrometheusQuerying {
    /// The address as given, e.g. `http://prometheus.istio-system:9090`.
    public let address: String
    private let endpoint: PrometheusAddress?
    private let credentials: ProviderCredentials
    private let http: HTTPClient
    private let timeout: Duration
    private let attempts: Int
    private let backoff: Duration

    /// - Parameters:
    ///   - address: `http[s]://host[:port][/prefix]`; anything else makes every query fail saying so.
    ///   - credentials: sent with every query (a MetricTemplate's Secret); the Secret's `address` is not read
    ///     here, the caller chooses the address.
    ///   - http: the client to query through; the process-wide `sharedHTTPClient` unless a test brings its own.
    ///   - timeout: bounds each attempt, from connecting to the last byte of the answer.
    ///   - attempts: tries per query, at least one.
    ///   - backoff: wait before the second attempt, doubled before each later one.
    public init(
        address: String, credentials: ProviderCredentials = .none, http: HTTPClient = PrometheusClient.sharedHTTPClient,
        timeout: Duration = .seconds(5), attempts: Int = 3, backoff: Duration = .milliseconds(200)
    ) {
        self.address = address
        self.endpoint = PrometheusAddress(address)
        self.credentials = credentials
        self.http = http
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
    }

    /// Runs `promql` as an instant query (GET `/api/v1/query`) at `time`, or at the server's current time.
    public func query(_ promql: String, at time: Double?) async -> PrometheusQueryResult {
        guard let endpoint else { return .failed(badAddress) }
        let url = endpoint.url("/api/v1/query?query=" + URLQuery.encoded(promql) + (time.map { "&time=\($0)" } ?? ""))
        switch await get(url, endpoint: endpoint) {
        case .failure(let error):
            return .failed(error.message)
        case .success(let response) where (200..<300).contains(response.status):
            switch PrometheusResponse.parse(response.body) {
            case .failed(let reason): return .failed("Prometheus at \(endpoint.display) failed query \(PrometheusResponse.oneLine(promql)): \(reason)")
            case let result: return result
            }
        case .success(let response):
            return .failed(
                "Prometheus at \(endpoint.display) rejected query \(PrometheusResponse.oneLine(promql)): "
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
        "Prometheus address \"\(address)\" is not http[s]://host[:port][/path]"
    }

    /// GETs `url` until a response that is not 5xx, or `attempts` run out; a 5xx is returned as an error.
    private func get(_ url: String, endpoint: PrometheusAddress) async -> Result<Answer, PrometheusError> {
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
                let response = try await once(url)
                guard response.status >= 500 else { return .success(response) }
                lastError = "HTTP \(response.status): \(PrometheusResponse.errorDescription(response.body))"
            } catch let error as HTTPClientError where [.deadlineExceeded, .readTimeout, .connectTimeout].contains(error) {
                lastError = "no response within \(Readable.duration(timeout))"
            } catch {
                lastError = TransportErrorText.describe(error)
            }
        }
        let tries = attempts == 1 ? "1 attempt" : "\(attempts) attempts"
        return .failure(PrometheusError("Prometheus at \(endpoint.display) unreachable after \(tries): \(lastError)"))
    }

    /// A whole answer: Prometheus' are small, so it is read at once.
    private struct Answer {
        var status: Int
        var body: [UInt8]
    }

    private func once(_ url: String) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "accept", value: "application/json")
        switch credentials.authorization {
        case .bearer(let token): request.headers.add(name: "authorization", value: "Bearer \(token)")
        case .basic(let username, let password): request.setBasicAuth(username: username, password: password)
        case nil: break
        }
        let deadline = NIODeadline.now() + .nanoseconds(Self.nanoseconds(timeout))
        let response = try await http.execute(request, deadline: deadline)
        let body = try await response.body.collect(upTo: Self.largestAnswer)
        return Answer(status: Int(response.status.code), body: Array(buffer: body))
    }

    /// More than any one-number answer needs; a query that selects thousands of series fails instead of filling memory.
    private static let largestAnswer = 16 * 1024 * 1024

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : scaled + attoseconds / 1_000_000_000
    }
}

extension PrometheusClient {
    /// How Prometheus queries connect: a refused connection fails the attempt at once (the client's own
    /// retries and backoff decide what comes next, instead of reconnecting until the deadline), and a redirect
    /// is an answer to report, not to follow with the credentials.
    public static var httpConfiguration: HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.redirectConfiguration = .disallow
        return configuration
    }

    /// The one client every Prometheus query of the process goes through, so connections are kept between
    /// analyses. Like `HTTPClient.shared`, it lives as long as the process and is never shut down.
    public static let sharedHTTPClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: httpConfiguration)
}
