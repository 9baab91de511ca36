import NIOCore
import NIOHTTP1
import SerinCore

/// One request on its way through the proxy: where it goes and how far it got.
final class ProxyExchange {
    /// The request head as it is sent upstream, encoded once for every attempt.
    let upstreamHead: ByteBuffer
    let isHEAD: Bool
    let downstreamVersion: HTTPVersion
    let keepAlive: Bool
    let route: RouteTable.Route
    let target: RouteTable.Target
    /// The endpoint of the current attempt, and its index in the cluster; a retry moves on to the next one.
    var endpoint: Cluster.Endpoint
    var endpointIndex: Int
    /// The cluster's outlier detection and connection budget, when its DestinationRule sets a traffic policy.
    let cluster: UpstreamCluster?
    /// The place in the cluster's queue while the request waits for a connection.
    var waiting: (id: UInt64, pool: UpstreamPool)?
    let started: NIODeadline

    var upstream: UpstreamConnection?
    /// Body bytes that arrived before the upstream connection was ready.
    var buffered: [ByteBuffer] = []
    var requestEnded = false
    /// Whether any request body bytes went upstream: after that a retry could duplicate them.
    var bodyForwarded = false
    var responseStarted = false
    var responseCode = 0
    var requestBytes = 0
    var responseBytes = 0
    var attempts = 0
    /// The client went away; nothing more is written for this exchange.
    var abandoned = false
    /// Request body bytes kept for a retry; nil once the body outgrew `maxReplayBytes`.
    var replay: [ByteBuffer]? = []
    var replayBytes = 0
    var retriesLeft: Int
    /// The route's `timeout` and `retries.perTryTimeout` timers.
    var deadline: Scheduled<Void>?
    var tryDeadline: Scheduled<Void>?
    /// The response ends by closing, or its body is decoded for an HTTP/1.0 client: the client connection ends with it.
    var closesClient = false
    /// Whether the client connection stays open after this exchange.
    var keepsClientAlive: Bool { keepAlive && !closesClient }
    /// `DI` when a fault delay was injected: Envoy's flag, kept on the finished request's series.
    var injectedFlag: ResponseFlag?
    var mirror: MirrorExchange?

    /// The most request body kept for retries, as Envoy's per-request buffer limit.
    static let maxReplayBytes = 64 * 1024

    init(
        upstreamHead: ByteBuffer, isHEAD: Bool, downstreamVersion: HTTPVersion, keepAlive: Bool, route: RouteTable.Route,
        target: RouteTable.Target, endpointIndex: Int, cluster: UpstreamCluster?, started: NIODeadline
    ) {
        self.upstreamHead = upstreamHead
        self.isHEAD = isHEAD
        self.downstreamVersion = downstreamVersion
        self.keepAlive = keepAlive
        self.route = route
        self.target = target
        self.endpoint = target.cluster.endpoints[endpointIndex]
        self.endpointIndex = endpointIndex
        self.cluster = cluster
        self.started = started
        self.retriesLeft = route.policy.retries?.attempts ?? 0
        if retriesLeft == 0 { replay = nil }
    }

    /// Stops the timers and leaves the queue for a connection: the exchange is over.
    func cancelTimers() {
        if let waiting, let cluster {
            waiting.pool.cancelWaiting(waiting.id, cluster: cluster)
            self.waiting = nil
        }
        deadline?.cancel()
        deadline = nil
        tryDeadline?.cancel()
        tryDeadline = nil
    }

    var endpointAddress: EndpointAddress { EndpointAddress(host: endpoint.address, port: endpoint.port) }

    /// Moves the exchange to the endpoint at `index` of its cluster (a retry).
    func move(toEndpoint index: Int) {
        guard target.cluster.endpoints.indices.contains(index) else { return }
        endpointIndex = index
        endpoint = target.cluster.endpoints[index]
    }

    /// Counts how the current attempt went for outlier detection, when the cluster has it.
    func observe(_ outcome: OutlierDetector.Outcome) {
        guard let cluster, cluster.hasOutlierDetection else { return }
        cluster.record(endpoint: endpointIndex, outcome: outcome, now: UpstreamCluster.now)
    }

    func trafficKey(code: Int, flags: ResponseFlag) -> TrafficKey {
        let flags = flags == .noFlag ? injectedFlag ?? flags : flags
        return TrafficKey(
            destinationService: target.cluster.host,
            destinationNamespace: target.cluster.service?.namespace ?? ResourceName.defaultNamespace,
            subset: target.cluster.subset, version: endpoint.labels["version"], workload: endpoint.workload,
            responseCode: code, responseFlags: flags
        )
    }
}
