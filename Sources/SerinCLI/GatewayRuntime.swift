import Foundation
import NIOCore
import NIOHTTP1
import SerinGateway
import SerinHTTP
import SerinManifests

/// The gateway, its admin endpoint and the live configuration behind `apply`, started and stopped together.
public final class GatewayRuntime: Sendable {
    public let gateway: GatewayServer
    public let live: LiveConfiguration
    public let admin: SimpleHTTPServer

    private init(gateway: GatewayServer, live: LiveConfiguration, admin: SimpleHTTPServer) {
        self.gateway = gateway
        self.live = live
        self.admin = admin
    }

    /// Why the runtime did not start, with the flag that fixes it.
    public enum StartError: Error, CustomStringConvertible {
        case gateway(GatewayError)
        case admin(address: String, underlying: any Error)

        public var description: String {
            switch self {
            case .gateway(let error):
                switch error {
                case .portInUse, .permissionDenied, .invalidPort:
                    return "\(error); pick other ports with --port-offset N"
                }
            case .admin(let address, let underlying):
                return "cannot serve the admin endpoint on \(address): \(underlying); pick another with --admin HOST:PORT"
            }
        }
    }

    /// Binds every Gateway port and the admin endpoint; on failure nothing is left listening.
    public static func start(
        resources: [LocatedResource], threads: Int, bindHost: String, portMapping: GatewayServer.PortMapping,
        adminHost: String, adminPort: Int
    ) async throws -> GatewayRuntime {
        let gateway = GatewayServer(threads: threads, bindHost: bindHost, portMapping: portMapping)
        let live = LiveConfiguration(gateway: gateway, resources: resources)
        do {
            try await live.installCurrent()
        } catch let error as GatewayError {
            await gateway.shutdown()
            throw StartError.gateway(error)
        }
        var router = SimpleRouter()
        GatewayAdmin.register(gateway, on: &router)
        router.add("POST", "/apply") { request in
            do {
                let applyRequest = try JSONDecoder().decode(ApplyRequest.self, from: Data(request.body))
                let report = await live.apply(applyRequest.sources)
                return .json(report, status: report.applied ? 200 : 422)
            } catch {
                return .text("POST /apply expects JSON {\"sources\": [{\"path\", \"text\"}]}: \(error)\n", status: 400)
            }
        }
        let routes = router
        do {
            let admin = try await SimpleHTTPServer.start(group: gateway.group, host: adminHost, port: adminPort) { request in
                await routes.handle(request)
            }
            return GatewayRuntime(gateway: gateway, live: live, admin: admin)
        } catch {
            await gateway.shutdown()
            throw StartError.admin(address: "\(adminHost):\(adminPort)", underlying: error)
        }
    }

    public var adminURL: String { "http://\(admin.host):\(admin.port)" }

    public func shutdown() async {
        await admin.close()
        await gateway.shutdown()
    }
}
