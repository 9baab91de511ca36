import Foundation
import HTTPTypes
import Hummingbird
import SerinController
import SerinCore
import SerinListener

/// The admin listener's routes as both modes serve them, so `serin up` and `serin controller` answer the same
/// documented API: `/healthz`, `/version`, `/readyz`, `/openapi.json`, the dashboard, the controller's API and event stream,
/// and `/metrics`. A mode adds its own routes before (the embedded gateway's `/config` and `/apply`); the
/// OpenAPI document then lists only the paths this listener serves.
public enum AdminSurface {
    /// Paths only embedded mode serves (its gateway's configuration, and applying files to it).
    public static let gatewayPaths: Set<String> = ["/config", "/apply"]

    /// The probes every admin listener answers, with a controller or without (`serin gateway`).
    public static func registerProbes(readiness: Readiness, on routes: AdminRoutes) {
        routes.add(.get, "/healthz") { _, _ in .text("ok\n") }
        routes.add(.get, "/version") { _, _ in .json(SerinVersion.view) }
        routes.add(.get, "/readyz") { _, _ in readiness.response }
    }

    /// Adds the controller's routes to `routes` (the probes are `registerProbes`'). `/metrics` serves `metrics`, the
    /// registry the controller records into, after `metricsBefore` (the gateway's families, in embedded mode);
    /// `servesGateway` keeps the gateway's paths in the OpenAPI document.
    public static func register(
        _ controller: CanaryController, metrics: ControllerMetricsRegistry, on routes: AdminRoutes, servesGateway: Bool,
        eventKeepAlive: Duration = .seconds(15), metricsBefore: @escaping @Sendable () -> AnyIterator<String> = { AnyIterator { nil } }
    ) {
        let document = servesGateway ? OpenAPIDocument.json : OpenAPIDocument.json(omitting: gatewayPaths)
        routes.add(.get, "/openapi.json") { _, _ in .content(document, contentType: "application/json") }
        routes.add(.get, "/") { _, _ in .content(DashboardPage.html, contentType: "text/html; charset=utf-8") }
        ControllerAdmin.register(controller, on: routes, keepAlive: eventKeepAlive)
        routes.add(.get, "/metrics") { _, _ in
            .streamed(contentType: "text/plain; version=0.0.4; charset=utf-8") {
                let before = metricsBefore()
                var own: String? = metrics.exposition()
                return AnyIterator { before.next() ?? own.take() }
            }
        }
    }
}

extension OpenAPIDocument {
    /// The document without `paths`: what a listener that does not serve them documents.
    static func json(omitting paths: Set<String>) -> String {
        guard var document = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
            let all = document["paths"] as? [String: Any]
        else { return json }
        document["paths"] = all.filter { !paths.contains($0.key) }
        guard let data = try? JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else { return json }
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
