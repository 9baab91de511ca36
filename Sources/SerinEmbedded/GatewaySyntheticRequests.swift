import SerinController
import SerinCore
import SerinGateway

/// `analysis.load` on the embedded gateway: each synthetic request goes through the gateway's own upstreams to the
/// endpoints live traffic to the same destination reaches, and is counted as `request_kind="synthetic"`.
public struct GatewaySyntheticRequests: SyntheticRequestSender {
    private let gateway: GatewayServer

    public init(gateway: GatewayServer) {
        self.gateway = gateway
    }

    public func target(for destination: Destination, of canary: ResourceName) -> RouteTable.Target? {
        gateway.routes.table.target(for: destination)
    }

    public func send(to target: RouteTable.Target, path: String, headers: [(String, String)]) {
        gateway.sendSynthetic(to: target, path: path, headers: headers)
    }
}
