import NIOCore

/// What the gateway's admin endpoints serve (`/config`, `/metrics`); the admin listener's routes are
/// SerinEmbedded's, so the data plane needs no HTTP server library.
public enum GatewayAdmin {
    /// What `/config` serves: the routing table in use, its generation and the ports bound, and the mesh's routes
    /// when the mesh listener is open.
    public static func configDocument(_ gateway: GatewayServer) -> RouteTableDocument {
        let current = gateway.routes.versioned
        return RouteTableDocument(current.table, generation: current.generation, boundPorts: gateway.boundPorts,
            meshPort: gateway.meshAddress?.port, meshTCPPorts: gateway.boundMeshTCPPorts)
    }

    /// What `/metrics` serves: Istio's standard metrics for the traffic, then the gateway's own.
    public static func metricsText(_ gateway: GatewayServer) -> String {
        metricsPieces(gateway).joined()
    }

    /// The same text in pieces, as `/metrics` streams it: the request series a few dozen at a time, then the rest.
    public static func metricsPieces(_ gateway: GatewayServer) -> AnyIterator<String> {
        var requests = PrometheusExposition.pieces(gateway.telemetry.snapshot())
        var rest: String? =
            PrometheusExposition.renderTCP(gateway.telemetry.tcpSnapshot()) + gateway.clusters.exposition()
            + gateway.gatewayHealth.exposition(open: gateway.openConnectionCount)
        return AnyIterator { requests.next() ?? rest.take() }
    }
}
