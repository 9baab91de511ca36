import Foundation
import HTTPTypes
import Hummingbird
import SerinGateway
import SerinListener
import NIOCore
import SerinServer
import SerinStore

/// The embedded gateway's own admin routes: its configuration (`/config`), applying files to it (`/apply`)
/// and, when no controller serves `/metrics` with the gateway's families in front, its metrics.
enum GatewayAdminRoutes {
    /// Bodies `/apply` takes: a whole configuration's files, with room to spare.
    static let maxApplyBytes = 16 << 20

    static func register(_ gateway: GatewayServer, live: LiveConfiguration, on routes: AdminRoutes, servesMetrics: Bool) {
        routes.add(.get, "/config") { _, _ in .json(GatewayAdmin.configDocument(gateway)) }
        // `serin route` without files: what the live table (a rollout's weights, a strategy's routes) does with a request.
        routes.add(.get, "/route") { request, _ in
            let items = request.uri.queryParameters.map { (name: String($0.key), value: String($0.value)) }
            switch RouteQuestion.parse(query: items) {
            case .success(let question): return .json(RouteExplanation.answer(question, in: gateway.routes.versioned.table))
            case .failure(let problem): return .json(APIError(error: "GET /route: \(problem)"), status: 400)
            }
        }
        if servesMetrics {
            routes.add(.get, "/metrics") { _, _ in
                .streamed(contentType: "text/plain; version=0.0.4; charset=utf-8") { GatewayAdmin.metricsPieces(gateway) }
            }
        }
        routes.add(.post, "/apply") { request, _ in
            var request = request
            let body: ByteBuffer
            do {
                body = try await request.collectBody(upTo: maxApplyBytes)
            } catch is NIOTooManyBytesError {
                return .json(APIError(error: "request body larger than \(maxApplyBytes) bytes"), status: 413)
            } catch {
                return .json(APIError(error: "cannot read the request body: \(error)"), status: 400)
            }
            do {
                let applyRequest = try JSONDecoder().decode(ApplyRequest.self, from: Data(body.readableBytesView))
                let report = await live.apply(applyRequest.sources)
                return .json(report, status: report.applied ? 200 : 422)
            } catch {
                let why = error.readableDecodingFailure
                return .json(APIError(error: "POST /apply expects JSON {\"sources\": [{\"path\", \"text\"}]}: \(why)"), status: 400)
            }
        }
    }
}
