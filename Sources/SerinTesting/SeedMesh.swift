import SerinCore

/// The seed's mesh built in code: Gateway `web-gateway` on port 80 for any host, VirtualService
/// `web-virtualservice` routing exactly `/` to web-v1-service and web-v2-service by weight.
public enum SeedMesh {
    public static let gatewayName = ResourceName(name: "web-gateway")
    public static let virtualServiceName = ResourceName(name: "web-virtualservice")

    /// - Parameters:
    ///   - endpoints: where each service lives (`web-v1-service` → `127.0.0.1:port`); a service without
    ///     an entry resolves but has no endpoints.
    ///   - extraRoutes: routes placed after the seed's route.
    public static func config(
        v1Weight: Int = 100, v2Weight: Int = 0, endpoints: [String: Int],
        extraRoutes: [HTTPRoute] = [], uriMatch: StringMatch? = .exact("/")
    ) -> MeshConfig {
        let gateway = Gateway(
            name: gatewayName, selector: ["istio": "ingressgateway"],
            servers: [Gateway.Server(port: 80, portName: "http", protocol: "HTTP", hosts: ["*"])]
        )
        var destinations = [WeightedDestination(destination: Destination(host: "web-v1-service", port: 80), weight: v1Weight)]
        if v2Weight > 0 || v1Weight < 100 {
            destinations.append(WeightedDestination(destination: Destination(host: "web-v2-service", port: 80), weight: v2Weight))
        }
        let seedRoute = HTTPRoute(
            matches: uriMatch.map { [RequestMatch(uri: $0)] } ?? [], destinations: destinations
        )
        let virtualService = VirtualService(
            name: virtualServiceName, hosts: ["*"], gateways: [gatewayName], http: [seedRoute] + extraRoutes
        )
        let services = ["web-v1-service", "web-v2-service", "web-v3-service"].map { name in
            MeshService(
                name: ResourceName(name: name), hosts: MeshService.kubernetesHosts(name: name, namespace: "default"),
                ports: [ServicePort(number: 80, name: "http")],
                endpoints: endpoints[name].map { port in
                    [ServiceEndpoint(address: "127.0.0.1", ports: ["http": port], labels: ["app": "web", "version": version(of: name)])]
                } ?? []
            )
        }
        return MeshConfig(gateways: [gateway], virtualServices: [virtualService], services: services)
    }

    static func version(of service: String) -> String {
        service.split(separator: "-").dropFirst().first.map(String.init) ?? "v0"
    }
}
