import NIOCore
import NIOHTTP1
import SerinCore

/// One request on its way through the proxy: where it goes and how far it got.
final class ProxyExchange {
    /// The request as it is sent upstream.
    let upstreamHead: HTTPRequestHead
    let downstreamVersion: HTTPVersion
    let keepAlive: Bool
    let target: RouteTable.Target
    let endpoint: Cluster.Endpoint
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

    init(
        upstreamHead: HTTPRequestHead, downstreamVersion: HTTPVersion, keepAlive: Bool,
        target: RouteTable.Target, endpoint: Cluster.Endpoint, started: NIODeadline
    ) {
        self.upstreamHead = upstreamHead
        self.downstreamVersion = downstreamVersion
        self.keepAlive = keepAlive
        self.target = target
        self.endpoint = endpoint
        self.started = started
    }

    var endpointAddress: EndpointAddress { EndpointAddress(host: endpoint.address, port: endpoint.port) }

    func trafficKey(code: Int, flags: String) -> TrafficKey {
        TrafficKey(
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
