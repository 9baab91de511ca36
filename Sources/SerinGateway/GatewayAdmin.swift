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

extension SimpleResponse {
    /// A JSON response (sorted keys, pretty-printed: these are read by people as often as by programs).
    public static func json<T: Encodable>(_ value: T, status: Int = 200) -> SimpleResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            var data = try encoder.encode(value)
            data.append(0x0A)
            return SimpleResponse(status: status, headers: [("content-type", "application/json")], body: Array(data))
        } catch {
            return .text("could not encode response: \(error)\n", status: 500)
        }
    }
}
