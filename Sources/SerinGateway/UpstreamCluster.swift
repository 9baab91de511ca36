import NIOCore
import NIOSSL
import SerinCore
import Synchronization

/// What a DestinationRule's `trafficPolicy` makes the gateway remember about one cluster across all its event
/// loops: which endpoints outlier detection has ejected, and the connection budget with the requests waiting on
/// it. Clusters without a policy have none of this and cost nothing per request.
///
/// The decisions are the pure `OutlierDetector` and `ConnectionBudget`; this class only shares them between
/// loops under one lock and wakes a waiting request on its own loop.
final class UpstreamCluster: Sendable {
    let name: String
    let policy: TrafficPolicy
    let endpointCount: Int
    let hasOutlierDetection: Bool
    /// Whether `connectionPool.http.maxRetries` or `retryBudget` limits the requests retrying at once.
    let hasRetryLimit: Bool
    /// The pool's connect timeout for this cluster (`connectionPool.tcp.connectTimeout`), when set.
    let connectTimeout: TimeAmount?
    /// How long an upstream connection may sit idle in the pool (`connectionPool.http.idleTimeout`, else
    /// `tcp.idleTimeout`, as Istio falls back), when set and not 0.
    let idleTimeout: TimeAmount?
    /// How old an upstream connection may grow (`connectionPool.tcp.maxConnectionDuration`), when set.
    let maxConnectionDuration: TimeAmount?
    /// `connectionPool.tcp.tcpKeepalive`, set on every connection to the cluster.
    let keepalive: ConnectionPoolSettings.TCPKeepalive?
    /// `maxConcurrentStreams`: streams one upstream HTTP/2 connection carries at once; nil is the server's limit.
    var maxConcurrentStreams: Int? { policy.connectionPool?.http.maxConcurrentStreams }
    let endpoints: [Cluster.Endpoint]
    /// The order the endpoints take their turns in, by weight.
    let schedule: EndpointSchedule
    /// The endpoints' weights for `consistentHash`, when they differ; nil when alike (the hash then needs none).
    let hashWeights: [Int]?
    /// `loadBalancer`: `RANDOM`, or the key whose hash picks the endpoint; nil takes the endpoints in turn.
    let balancing: Balancing?
    /// `loadBalancer.warmup`, for a cluster taking its endpoints in turn or by load (as Envoy's slow start).
    let warmup: LoadBalancerSettings.Warmup?
    /// When each endpoint joined the cluster (`UpstreamCluster.now`): kept across reconfigurations that keep it.
    let joined: [Duration]
    /// When the last endpoint's warmup ends; from then on `warmingPick` has nothing to do.
    private let warmupEnds: Duration
    /// TLS to the endpoints (`tls` SIMPLE or MUTUAL): the context, or why it could not be built (each connect then
    /// fails with it); nil for plain TCP. Read at each connect: a reload serves new connections only.
    var tls: Result<NIOSSLContext, GatewayError>? { clientTLS.withLock { $0.context } }
    private let clientTLS: Mutex<ClientTLSState>
    /// The destination's host: the server's name, unless each request's host names it (`namesServerPerRequest`), and
    /// for a request without one (a mirror's copy).
    let host: String
    /// Whether each request's host names the server (`tls` without `sni`: Istio's `auto_sni`), rather than the
    /// destination's host: the pools then keep connections apart per host, as Envoy's pools do per SNI.
    let namesServerPerRequest: Bool
    /// Every loop of the gateway: a request waiting on one loop may need an idle connection on another closed.
    private let loops: [LoopContext]
    private let state: Mutex<State>

    private struct State {
        var detector: OutlierDetector?
        var budget: ConnectionBudget
        var waiters: [Waiter] = []
        var nextWaiter: UInt64 = 0
        var ejections = 0
        /// Retries refused because `maxRetries` or `retryBudget` were all taken.
        var retryOverflows = 0
        /// Set once a reconfiguration replaced this cluster: its connections close instead of going idle.
        var retired = false
    }

    /// A request waiting for a connection: where it waits and for which endpoint.
    struct Waiter: Sendable {
        let id: UInt64
        let loop: LoopContext
        let endpoint: EndpointAddress
    }

    /// `joined`: when each endpoint joined the cluster, for `warmup`. Not given (a cluster new to the gateway, or at
    /// start), its endpoints were there all along: they take their full share at once, and only one added later warms up.
    init(_ cluster: Cluster, loops: [LoopContext], joined: [Duration]? = nil) {
        name = cluster.name
        policy = cluster.trafficPolicy
        endpoints = cluster.endpoints
        schedule = cluster.schedule
        hashWeights = Set(cluster.endpoints.map(\.weight)).count > 1 ? cluster.endpoints.map(\.weight) : nil
        endpointCount = cluster.endpoints.count
        balancing = Balancing(cluster.trafficPolicy.loadBalancer)
        warmup = balancing == nil && cluster.endpoints.count > 1 ? cluster.trafficPolicy.loadBalancer?.warmup : nil
        let joinedAt = joined.flatMap { $0.count == cluster.endpoints.count ? $0 : nil } ?? Array(repeating: Self.allAlong, count: cluster.endpoints.count)
        self.joined = joinedAt
        warmupEnds = warmup.map { (joinedAt.max() ?? Self.allAlong) + $0.duration } ?? .zero
        hasOutlierDetection = cluster.trafficPolicy.outlierDetection != nil
        hasRetryLimit = ConnectionBudget(cluster.trafficPolicy).limitsRetries
        self.loops = loops
        connectTimeout = policy.connectionPool?.tcp.connectTimeout.map(TimeAmount.init)
        let pool = policy.connectionPool
        idleTimeout = pool?.httpIdleTimeout.flatMap { $0 > .zero ? TimeAmount($0) : nil }
        maxConnectionDuration = pool?.tcp.maxConnectionDuration.map(TimeAmount.init)
        keepalive = pool?.tcp.tcpKeepalive
        host = cluster.host
        namesServerPerRequest = policy.tls.map { $0.mode != .disable && $0.sni == nil } ?? false
        // Over HTTP/2 (the port's protocol or h2UpgradePolicy), the ClientHello offers h2 by ALPN.
        clientTLS = Mutex(ClientTLSState(policy.tls, cluster: cluster.name, http2: cluster.speaksHTTP2))
        let detector = policy.outlierDetection.map {
            var detector = OutlierDetector(policy: $0, endpointCount: cluster.endpoints.count, panicThreshold: $0.minHealthPercent)
            detector.priorities = cluster.priorities
            return detector
        }
        state = Mutex(State(detector: detector, budget: ConnectionBudget(policy)))
    }

    /// Builds the client context again when one of its files (caCertificates, clientCertificate, privateKey)
    /// changed since it was built; connections open keep theirs. A failed reload keeps the context in use.
    func reloadTLSIfChanged() -> CertificateReload {
        clientTLS.withLock { $0.reloadIfChanged(policy.tls, cluster: name) }
    }

    // MARK: Outlier detection

    /// The endpoint index for one round-robin turn, skipping ejected endpoints; nil when every endpoint is out. By
    /// locality, on the level the turn draws (away from the levels of the endpoints in `leavingLevelsOf`, a retry's
    /// under `retryRemoteLocalities`), or on the level of the endpoint `sameLevelAs` when given.
    func pick(forTurn turn: Int, now: Duration, sameLevelAs first: Int? = nil, leavingLevelsOf left: ArraySlice<Int>? = nil) -> Int? {
        state.withLock { state in
            guard let detector = state.detector else {
                return endpointCount > 0 ? schedule.endpoint(forTurn: turn, count: endpointCount) : nil
            }
            return detector.pick(
                forTurn: turn, now: now, schedule: schedule, level: first.flatMap(detector.level(of:)),
                leavingLevels: left.map { Set($0.compactMap(detector.level(of:))) } ?? []
            )
        }
    }

    /// When an endpoint that was there before the cluster was joined it: long enough ago for any warmup to be over.
    static let allAlong: Duration = .seconds(-(Int64(1) << 40))

    /// Whether an endpoint is still warming up (`warmup`) at `now`: `warmingPick` has a choice to make.
    func isWarming(now: Duration) -> Bool { warmup != nil && now < warmupEnds }

    /// While an endpoint warms up (`warmup`), the endpoint for one request: drawn by `draw` in proportion to each
    /// endpoint's weight scaled by its warmup factor (`Warmup.weight`; with `load`, the requests in flight to each
    /// on this loop, also by those), among those outlier detection has not ejected. Nil outside any warmup window
    /// (the usual choice applies), or when every endpoint is out.
    func warmingPick(draw: UInt64, now: Duration, load: EndpointLoad? = nil) -> Int? {
        guard let warmup, now < warmupEnds else { return nil }
        return state.withLock { state in
            var weights: [Double] = []
            weights.reserveCapacity(endpointCount)
            for (index, endpoint) in endpoints.enumerated() {
                let out = state.detector?.isEjected(index, now: now) ?? false
                weights.append(out ? 0 : warmup.weight(endpoint.weight, age: now - joined[index], inFlight: load?.inFlight(index)))
            }
            return WeightedDraw.index(in: weights, draw: draw)
        }
    }

    /// The endpoint for a consistent-hash key, passing over ejected endpoints and those `isPassedOver` is true of (a
    /// retry's endpoints already tried); nil when none is left.
    func pick(forHash key: UInt64, now: Duration, passingOver isPassedOver: (Int) -> Bool = { _ in false }) -> Int? {
        state.withLock { state in
            guard let detector = state.detector else {
                return ConsistentHash.endpoint(for: key, count: endpointCount, weights: hashWeights, isOut: isPassedOver)
            }
            return detector.pick(forHash: key, now: now, weights: hashWeights, passingOver: isPassedOver)
        }
    }

    /// Counts one attempt's outcome against `endpoint`; returns the ejection it caused, if any.
    @discardableResult
    func record(endpoint: Int, outcome: OutlierDetector.Outcome, now: Duration) -> OutlierDetector.Ejection? {
        state.withLock { state in
            guard let ejection = state.detector?.record(endpoint: endpoint, outcome: outcome, now: now) else { return nil }
            state.ejections += 1
            return ejection
        }
    }

    /// Ejections so far and endpoints out now, for `/metrics`.
    func ejectionCounts(now: Duration) -> (total: Int, active: Int) {
        state.withLock { ($0.ejections, $0.detector?.ejectedCount(now: now) ?? 0) }
    }


    /// The server name a ClientHello sends: `tls.sni`, else `host` — the request's, as Istio's `auto_sni` sends it,
    /// or the destination's for a request without one (a mirror's copy); none for an IP address, which SNI cannot
    /// carry, or without TLS.
    static func serverName(_ tls: ClientTLS, host: String) -> String? {
        guard tls.mode != .disable else { return nil }
        if let sni = tls.sni { return sni }
        let isAddress = host.contains(":") || host.split(separator: ".").allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
        return host.isEmpty || isAddress ? nil : host
    }

    /// The TLS handler for a new connection to an endpoint, for requests to `requestHost` (nil: the destination's
    /// host): the server name its ClientHello sends and the names the certificate must carry, as `tls` asks.
    func clientHandler(_ context: NIOSSLContext, for requestHost: String?) throws -> NIOSSLClientHandler {
        let host = requestHost ?? self.host
        return try GatewayTLS.clientHandler(
            context: context, serverName: policy.tls.flatMap { Self.serverName($0, host: host) },
            names: UpstreamCertificateNames(policy.tls, host: host)
        )
    }

    /// A request's host (`RequestAttributes.host`, its authority without the port) as SNI carries it: lowercased,
    /// without an IPv6 literal's brackets; nil when empty.
    static func serverHost(_ host: Substring) -> String? {
        let bare = host.first == "[" && host.last == "]" ? host.dropFirst().dropLast() : host
        return bare.isEmpty ? nil : bare.lowercased()
    }

    /// The clock outlier detection runs on: time since the machine booted.
    static var now: Duration { .nanoseconds(Int64(NIODeadline.now().uptimeNanoseconds)) }

    // MARK: Connection budget

    /// What a request that found no idle connection may do.
    enum Admission {
        case open
        case wait(UInt64)
        case reject(ConnectionBudget.Overflow)
    }

    /// Asks the budget for a connection. A request told to wait is queued; every loop is then asked to close one
    /// idle connection of this cluster, since an idle connection on another loop could otherwise hold the slot
    /// the waiting request needs for as long as it stays idle.
    func requestConnection(on loop: LoopContext, to endpoint: EndpointAddress) -> Admission {
        let admission = state.withLock { state -> Admission in
            switch state.budget.requestConnection() {
            case .open:
                return .open
            case .reject(let overflow):
                return .reject(overflow)
            case .wait:
                state.nextWaiter &+= 1
                state.waiters.append(Waiter(id: state.nextWaiter, loop: loop, endpoint: endpoint))
                return .wait(state.nextWaiter)
            }
        }
        if case .wait = admission {
            for other in loops {
                other.eventLoop.execute { other.pool.closeOneIdle(of: self) }
            }
        }
        return admission
    }

    /// An HTTP/2 connection may open: true while the budget has room, or for a loop's first to its endpoint (it counts
    /// as open until `connectionClosed()`).
    func openMultiplexed(firstToItsEndpoint: Bool) -> Bool {
        state.withLock { $0.budget.openMultiplexed(firstToItsEndpoint: firstToItsEndpoint) }
    }

    /// A request is about to go upstream: counted as in flight, or the overflow when `http2MaxRequests` are.
    func requestStarted() -> ConnectionBudget.Overflow? {
        state.withLock { $0.budget.requestStarted() }
    }

    func requestFinished() {
        state.withLock { $0.budget.requestFinished() }
    }

    /// Whether a request may retry now (`maxRetries`, `retryBudget`); a request already retrying always may.
    var mayRetry: Bool { state.withLock { $0.budget.mayRetry } }

    func retryStarted() {
        state.withLock { $0.budget.retryStarted() }
    }

    func retryFinished() {
        state.withLock { $0.budget.retryFinished() }
    }

    /// A request would have retried but found the retry limit taken: its attempt's outcome was its answer.
    func retryOverflowed() {
        state.withLock { $0.retryOverflows += 1 }
    }

    /// Retries refused by the retry limit so far, for `/metrics`.
    var retryOverflows: Int { state.withLock { $0.retryOverflows } }

    /// A waiting request gave up (its client left, or its route timed out). False when it was already woken.
    func cancelWaiting(_ id: UInt64) -> Bool {
        state.withLock { state in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return false }
            state.waiters.remove(at: index)
            state.budget.pendingCancelled()
            return true
        }
    }

    /// What to do with a connection that finished an exchange cleanly.
    enum Reuse {
        /// Keep it idle in the pool.
        case keep
        /// Give it to this waiting request on the same loop.
        case handOff(UInt64)
        /// Close it, so a request waiting elsewhere (or for another endpoint) may open its own.
        case close
    }

    func reuse(_ connection: UpstreamConnection, on loop: LoopContext) -> Reuse {
        let tooOld = maxConnectionDuration.map { NIODeadline.now() - connection.opened >= $0 } ?? false
        return state.withLock { state in
            if tooOld || state.retired || state.budget.shouldRetire(afterRequests: connection.requestsServed) { return .close }
            guard let first = state.waiters.first else { return .keep }
            guard first.loop === loop, first.endpoint == connection.endpoint else { return .close }
            state.waiters.removeFirst()
            state.budget.pendingServed()
            return .handOff(first.id)
        }
    }

    /// A connection of this cluster closed (or failed to open): its slot goes to the first waiting request, which
    /// is woken on its loop to open a connection of its own.
    func connectionClosed() {
        let woken: Waiter? = state.withLock { state in
            state.budget.connectionClosed()
            guard state.budget.openForPending() else { return nil }
            return state.waiters.removeFirst()
        }
        if let woken {
            woken.loop.eventLoop.execute { woken.loop.pool.wake(self, waiter: woken.id, with: .open) }
        }
    }

    /// Connections open (or opening) and requests waiting for one, for `/metrics`.
    var budgetCounts: (open: Int, pending: Int) {
        state.withLock { ($0.budget.openConnections, $0.budget.pendingRequests) }
    }

    /// Replaced by a reconfiguration: connections close as they come back.
    func retire() { state.withLock { $0.retired = true } }

    var isRetired: Bool { state.withLock { $0.retired } }
}

extension TimeAmount {
    /// `duration` in nanoseconds, at most `longestSeconds`: a deadline a client names (`grpc-timeout: 99999999H`, legal gRPC)
    /// can be longer than 64-bit nanoseconds count, and would trap the process converted as it is.
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        guard seconds < Self.longestSeconds else {
            self = .seconds(Self.longestSeconds)
            return
        }
        self = .nanoseconds(max(seconds, 0) * 1_000_000_000 + max(attoseconds, 0) / 1_000_000_000)
    }

    /// A century: longer than any deadline means, and far inside what a deadline from now can count to.
    static let longestSeconds: Int64 = 100 * 365 * 86_400
}

/// A cluster's client TLS context and the stamps of the files it was built from.
private struct ClientTLSState {
    var context: Result<NIOSSLContext, GatewayError>?
    var stamps: [String: FileStamp]
    var lastFailure: String?
    /// Whether the context offers h2 by ALPN.
    let http2: Bool

    init(_ settings: ClientTLS?, cluster: String, http2: Bool) {
        self.http2 = http2
        stamps = Self.stamps(settings)
        context = Self.build(settings, cluster: cluster, http2: http2)
    }

    static func build(_ settings: ClientTLS?, cluster: String, http2: Bool) -> Result<NIOSSLContext, GatewayError>? {
        guard let settings else { return nil }
        do throws(GatewayError) {
            return try GatewayTLS.clientContext(for: settings, cluster: cluster, http2: http2).map { .success($0) }
        } catch {
            return .failure(error)
        }
    }

    static func stamps(_ settings: ClientTLS?) -> [String: FileStamp] {
        guard let settings, settings.mode != .disable else { return [:] }
        let files = [settings.caCertificates, settings.clientCertificate, settings.privateKey].compactMap { $0 }
        return Dictionary(files.map { ($0, FileStamp(path: $0)) }) { first, _ in first }
    }

    mutating func reloadIfChanged(_ settings: ClientTLS?, cluster: String) -> CertificateReload {
        let now = Self.stamps(settings)
        guard !now.isEmpty, now != stamps else { return .unchanged }
        switch Self.build(settings, cluster: cluster, http2: http2) {
        case .failure(let error):
            guard error.description != lastFailure else { return .unchanged }
            lastFailure = error.description
            return .failed(error)
        case let built:
            context = built
            stamps = now
            lastFailure = nil
            return .reloaded(now.keys.sorted())
        }
    }
}

extension UpstreamCluster {
    /// How `loadBalancer` picks an endpoint, where it does not take them in turn.
    enum Balancing: Sendable {
        case random
        case hash(LoadBalancerSettings.HashKey)

        init?(_ settings: LoadBalancerSettings?) {
            if let key = settings?.consistentHash {
                self = .hash(key)
            } else if settings?.simple == .random {
                self = .random
            } else {
                return nil
            }
        }

        /// Balanced by a consistent-hash key: a retry stays on the key's endpoint unless told otherwise.
        var isHashed: Bool {
            if case .hash = self { return true }
            return false
        }

        /// Balanced by a uniform draw: a retry starts from a random turn.
        var isRandom: Bool {
            if case .random = self { return true }
            return false
        }
    }
}
