import NIOCore
import NIOHTTP1
import SerinCore

/// One request on its way through the proxy: where it goes and how far it got.
final class ProxyExchange {
    /// The request as it is sent upstream.
    let upstreamHead: HTTPRequestHead
    let downstreamVersion: HTTPVersion
    let keepAlive: Bool
    let route: RouteTable.Route
    let target: RouteTable.Target
    /// The endpoint of the current attempt; a retry moves on to the next one.
    var endpoint: Cluster.Endpoint
    let started: NIODeadline

    var upstream: UpstreamConnection?
    /// Parts that arrived before the upstream connection was ready.
    var buffered: [HTTPClientRequestPart] = []
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
    /// Request body parts and end kept for a retry; nil once the body outgrew `maxReplayBytes`.
    var replay: [HTTPClientRequestPart]? = []
    var replayBytes = 0
    var retriesLeft: Int
    /// The route's `timeout` and `retries.perTryTimeout` timers.
    var deadline: Scheduled<Void>?
    var tryDeadline: Scheduled<Void>?
    /// `DI` when a fault delay was injected: Envoy's flag, kept on the finished request's series.
    var injectedFlag: String?
    var mirror: MirrorExchange?

    /// The most request body kept for retries, as Envoy's per-request buffer limit.
    static let maxReplayBytes = 64 * 1024

    init(
        upstreamHead: HTTPRequestHead, downstreamVersion: HTTPVersion, keepAlive: Bool, route: RouteTable.Route,
        target: RouteTable.Target, endpoint: Cluster.Endpoint, started: NIODeadline
    ) {
        self.upstreamHead = upstreamHead
        self.downstreamVersion = downstreamVersion
        self.keepAlive = keepAlive
        self.route = route
        self.target = target
        self.endpoint = endpoint
        self.started = started
        self.retriesLeft = route.policy.retries?.attempts ?? 0
        if retriesLeft == 0 { replay = nil }
    }

    /// Stops the timers: the exchange is over.
    func cancelTimers() {
        deadline?.cancel()
        deadline = nil
        tryDeadline?.cancel()
        tryDeadline = nil
    }

    var endpointAddress: EndpointAddress { EndpointAddress(host: endpoint.address, port: endpoint.port) }

    func trafficKey(code: Int, flags: String) -> TrafficKey {
        let flags = flags == "-" ? injectedFlag ?? flags : flags
        return TrafficKey(
            destinationService: target.cluster.host,
            destinationNamespace: target.cluster.service?.namespace ?? ResourceName.defaultNamespace,
            subset: target.cluster.subset, version: endpoint.labels["version"], workload: endpoint.workload,
            responseCode: code, responseFlags: flags
        )
    }
}

/// Lets routing read NIO's headers in place.
struct NIORequestHeaders: RequestHeaderLookup {
    let headers: HTTPHeaders
    func firstValue(forHeader lowercasedName: String) -> String? { headers.first(name: lowercasedName) }
}
