import Foundation
import HTTPTypes
import Hummingbird
import SerinController
import SerinCore
import SerinListener

/// The admin listener's routes as both modes serve them, so `serin up` and `serin controller` answer the same
/// documented API: `/healthz`, `/version`, `/readyz`, `/openapi.json`, the dashboard, the controller's API and event stream,
/// and `/metrics`. A mode adds its own routes before (the embedded gateway's `/config`, `/apply` and `/route`), and
/// the OpenAPI document last (`registerDocument`), listing only the paths this listener serves.
public enum AdminSurface {
    /// The probes every admin listener answers, with a controller or without (`serin gateway`).
    public static func registerProbes(readiness: Readiness, on routes: AdminRoutes) {
        routes.add(.get, "/healthz") { _, _ in .text("ok\n") }
        routes.add(.get, "/version") { _, _ in .json(SerinVersion.view) }
        routes.add(.get, "/readyz") { _, _ in readiness.response }
    }

    /// Adds the controller's routes to `routes` (the probes are `registerProbes`'). `/metrics` serves `metrics`, the
    /// registry the controller records into, after `metricsBefore` (the gateway's families, in embedded mode).
    public static func register(
        _ controller: CanaryController, metrics: ControllerMetricsRegistry, on routes: AdminRoutes,
        eventKeepAlive: Duration = .seconds(15), metricsBefore: @escaping @Sendable () -> AnyIterator<String> = { AnyIterator { nil } }
    ) {
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

    /// Serves `/openapi.json`: the API's document, with only the paths `routes` serves (`serin gateway` serves no
    /// Canary's, `serin controller` no gateway's). Added after every other route.
    public static func registerDocument(on routes: AdminRoutes) {
        let document = OpenAPIDocument.json(keeping: routes.paths.union(["/openapi.json"]))
        routes.add(.get, "/openapi.json") { _, _ in .content(document, contentType: "application/json") }
    }
}

extension OpenAPIDocument {
    /// The document with only `paths`: what a listener that serves no others documents; the document as written
    /// when it serves them all.
    static func json(keeping paths: Set<String>) -> String {
        guard var document = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
            let all = document["paths"] as? [String: Any], !Set(all.keys).isSubset(of: paths)
        else { return json }
        document["paths"] = all.filter { paths.contains($0.key) }
        guard let data = try? JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else { return json }
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
