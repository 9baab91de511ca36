import Foundation
import SerinHTTP

/// The gateway's own admin endpoints: `/healthz`, `/config` and `/metrics`.
public enum GatewayAdmin {
    /// Adds the gateway's endpoints to `router`.
    public static func register(_ gateway: GatewayServer, on router: inout SimpleRouter) {
        router.add("GET", "/healthz") { _ in .text("ok\n") }
        router.add("GET", "/config") { _ in
            let current = gateway.routes.versioned
            let document = RouteTableDocument(current.table, generation: current.generation, boundPorts: gateway.boundPorts)
            return .json(document)
        }
        router.add("GET", "/metrics") { _ in
            .content(metricsText(gateway), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
    }

    /// What `/metrics` serves: Istio's standard metrics for the traffic, then the gateway's own.
    public static func metricsText(_ gateway: GatewayServer) -> String {
        PrometheusExposition.render(gateway.telemetry.snapshot()) + gateway.clusters.exposition()
    }
}
