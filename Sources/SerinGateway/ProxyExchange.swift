import NIOCore
import NIOHTTP1
import SerinCore

/// The IO side of one request on its way through the proxy: where it goes, the connection and timers it
/// holds, the bytes kept for it. How far it got is `ProxyStateMachine.Exchange`'s to know.
final class ProxyExchange {
    /// The request head as it is sent upstream, encoded once; each retry only renumbers its `x-envoy-attempt-count`.
    private(set) var upstreamHead: ByteBuffer
    /// Which attempt at the request is under way: 1, then 2 for the first retry.
    private(set) var attempt = 1
    let isHEAD: Bool
    let downstreamVersion: HTTPVersion
    let route: RouteTable.Route
    let target: RouteTable.Target
    /// The index in the cluster of the current attempt's endpoint; a retry moves on to the next one.
    private(set) var endpointIndex: Int
    /// The endpoints of the attempts before the current one, in order (a retry's move adds to it); nil before any
    /// retry, so a request that is not retried stores no array.
    private(set) var triedEndpoints: [Int]?
    /// The request's consistent-hash key, when its cluster balances by one and the request carries it: a retry picks
    /// by it again.
    var hashKey: UInt64?
    /// The current attempt's endpoint, read where it is needed (its address, a new series' labels): a copy kept
    /// here would retain its strings and labels for every request.
    var endpoint: Cluster.Endpoint { target.cluster.endpoints[endpointIndex] }
    /// The cluster's outlier detection and connection budget, when its DestinationRule sets a traffic policy.
    let cluster: UpstreamCluster?
    /// The request's host, when the cluster's TLS names the server by it (Istio's `auto_sni`): its connections are
    /// opened for, and reused by, that host alone.
    var serverHost: String?
    /// The place in the cluster's queue while the request waits for a connection.
    var waiting: (id: UInt64, pool: UpstreamPool)?
    let started: NIODeadline

    var upstream: UpstreamConnection?
    /// Body bytes that arrived before the upstream connection was ready.
    var buffered: [ByteBuffer] = []
    var requestBytes = 0
    var responseBytes = 0
    /// Request body bytes kept for a retry, while the machine says the body can be replayed.
    var replay: [ByteBuffer] = []
    /// The route's `timeout` and `retries.perTryTimeout` timers.
    var deadline: Scheduled<Void>?
    /// The request's timeout: the route's, or the client's shorter `grpc-timeout`; `deadline` runs it from when the
    /// request goes upstream (a fault delay's end).
    var timeout: Duration?
    var tryDeadline: Scheduled<Void>?
    /// The wait under way before an attempt: a fault's injected delay, or the backoff before a retry.
    var pause: Scheduled<Void>?
    /// The copies of the request under way to the route's mirrors.
    var mirrors: [MirrorExchange] = []
    /// What a fault delay holds back until it is over: the abort drawn for the request, the copies for its mirrors.
    var heldByFault: HeldByFault?
    /// The answer's `grpc-status`, read off an HTTP/2 upstream stream as the exchange finishes.
    var grpcStatus: String?
    /// The protocol the client asked to switch to (`websocket`), passed upstream with the request.
    var upgrade: String?
    /// The gateway answered the client's `expect: 100-continue` itself: an upstream's own `100` is not passed on again.
    var continued = false
    /// The answer ends with the upstream's connection but goes to an HTTP/1.1 client chunked, as Envoy frames it, so the
    /// client's connection outlives it.
    var chunksAnswer = false
    /// The request's timeout is its gRPC client's own deadline (`grpc-timeout`, within the route's): its passing is
    /// DEADLINE_EXCEEDED to the client, as Envoy says, not the gateway's UNAVAILABLE.
    var clientDeadline = false
    /// The loop's in-flight counts for a cluster balanced by load, which count this request against its endpoint
    /// until `finishRequest()` (a retry's move counts it against the next).
    private var load: EndpointLoad?
    /// The cluster counts this request as in flight (`http2MaxRequests`) until `finishRequest()`.
    private var admitted = false
    /// The cluster counts this request as retrying (`maxRetries`, `retryBudget`) until `finishRequest()`.
    private var retrying = false

    /// What waits for the end of a request's fault delay, as Envoy's router, behind the fault filter, only sees the
    /// request then. A class, so the common exchange stores one empty reference for it.
    final class HeldByFault {
        let abort: HTTPFaultInjection.Abort?
        let mirrors: ProxyHandler.MirrorCopies?

        init(abort: HTTPFaultInjection.Abort?, mirrors: ProxyHandler.MirrorCopies?) {
            self.abort = abort
            self.mirrors = mirrors
        }
    }

    init(
        upstreamHead: ByteBuffer, isHEAD: Bool, downstreamVersion: HTTPVersion, route: RouteTable.Route,
        target: RouteTable.Target, endpointIndex: Int, cluster: UpstreamCluster?, started: NIODeadline
    ) {
        self.upstreamHead = upstreamHead
        self.isHEAD = isHEAD
        self.downstreamVersion = downstreamVersion
        self.route = route
        self.target = target
        self.endpointIndex = endpointIndex
        self.cluster = cluster
        self.started = started
    }
    /// Asks the cluster's budget to count the request as in flight, once per exchange (retries included); the
    /// overflow when `http2MaxRequests` are already.
    func admit() -> UpstreamOverflow? {
        guard !admitted, let cluster else { return nil }
        if let overflow = cluster.requestStarted() { return UpstreamOverflow(cluster: cluster.name, overflow: overflow) }
        admitted = true
        return nil
    }

    /// The route's retry policy for the attempt under way (`granted`), or none when the cluster's `maxRetries` or
    /// `retryBudget` are all taken by other requests: the attempt's outcome is then final, as Envoy answers on a retry
    /// overflow, and the policy held back is `withheld`, to tell whether it would have retried.
    var retryPolicy: (granted: HTTPRetry?, withheld: HTTPRetry?) {
        guard let retries = route.policy.retries else { return (nil, nil) }
        guard !retrying, let cluster, cluster.hasRetryLimit else { return (retries, nil) }
        return cluster.mayRetry ? (retries, nil) : (nil, retries)
    }

    /// The request retries: from now until it is over, the cluster counts it against `maxRetries` or `retryBudget`.
    func retryStarted() {
        guard !retrying, let cluster else { return }
        retrying = true
        cluster.retryStarted()
    }

    /// Counts the request in flight to its endpoint in `load` until it is over.
    func count(in load: EndpointLoad) {
        self.load = load
        load.started(endpointIndex)
    }

    /// The request is over (answered, failed, abandoned, or its tunnel closed): the cluster stops counting it.
    func finishRequest() {
        if let load {
            load.finished(endpointIndex)
            self.load = nil
        }
        guard let cluster else { return }
        if retrying {
            retrying = false
            cluster.retryFinished()
        }
        guard admitted else { return }
        admitted = false
        cluster.requestFinished()
    }

    /// Stops the timers (each holds the proxy handler while it waits) and leaves the queue for a connection: the
    /// exchange is over.
    func cancelTimers() {
        if let waiting, let cluster {
            waiting.pool.cancelWaiting(waiting.id, cluster: cluster)
            self.waiting = nil
        }
        deadline?.cancel()
        deadline = nil
        tryDeadline?.cancel()
        tryDeadline = nil
        pause?.cancel()
        pause = nil
    }

    var endpointAddress: EndpointAddress {
        EndpointAddress(target.cluster.endpoints[endpointIndex])
    }

    /// Whether an attempt of this request went, or is going, to the endpoint at `index`.
    func hasTried(_ index: Int) -> Bool {
        index == endpointIndex || (triedEndpoints?.contains(index) ?? false)
    }

    /// A retry is the next attempt: its head says so.
    func nextAttempt() {
        attempt += 1
        ProxyHeaders.numberAttempt(attempt, of: &upstreamHead)
    }

    /// Moves the exchange to the endpoint at `index` of its cluster (a retry).
    func move(toEndpoint index: Int) {
        guard target.cluster.endpoints.indices.contains(index) else { return }
        triedEndpoints = (triedEndpoints ?? []) + [endpointIndex]
        load?.finished(endpointIndex)
        endpointIndex = index
        load?.started(index)
    }

    /// Counts how the current attempt went for outlier detection, when the cluster has it.
    func observe(_ outcome: OutlierDetector.Outcome) {
        guard let cluster, cluster.hasOutlierDetection else { return }
        cluster.record(endpoint: endpointIndex, outcome: outcome, now: UpstreamCluster.now)
    }

    func trafficKey(code: Int, flag: ResponseFlag) -> TrafficKey {
        var key = TrafficKey(cluster: target.cluster, endpoint: endpoint, responseCode: code, responseFlags: flag)
        key.grpcStatus = grpcStatus
        return key
    }
}
