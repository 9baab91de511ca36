import Foundation
import HTTPTypes
import Hummingbird
import SerinGateway
import SerinListener
import SerinServer

/// The embedded gateway's own admin routes: its configuration (`/config`), applying files to it (`/apply`)
/// and, when no controller serves `/metrics` with the gateway's families in front, its metrics.
enum GatewayAdminRoutes {
    /// Bodies `/apply` takes: a whole configuration's files, with room to spare.
    static let maxApplyBytes = 16 << 20

    static func register(_ gateway: GatewayServer, live: LiveConfiguration, on routes: AdminRoutes, servesMetrics: Bool) {
        routes.add(.get, "/config") { _, _ in .json(GatewayAdmin.configDocument(gateway)) }
        if servesMetrics {
            routes.add(.get, "/metrics") { _, _ in
                .streamed(contentType: "text/plain; version=0.0.4; charset=utf-8") { GatewayAdmin.metricsPieces(gateway) }
            }
        }
        routes.add(.post, "/apply") { request, _ in
            var request = request
            guard let body = try? await request.collectBody(upTo: maxApplyBytes) else {
                return .text("request body larger than \(maxApplyBytes) bytes\n", status: 413)
            }
            do {
                let applyRequest = try JSONDecoder().decode(ApplyRequest.self, from: Data(body.readableBytesView))
                let report = await live.apply(applyRequest.sources)
                return .json(report, status: report.applied ? 200 : 422)
            } catch {
                return .text("POST /apply expects JSON {\"sources\": [{\"path\", \"text\"}]}: \(error)\n", status: 400)
            }
        }
    }
}
