import SerinCore

extension MeshConfig {
    /// The canonical configuration of decoded resources.
    ///
    /// Kubernetes Services and ServiceEntries become `MeshService`s. A ServiceEntry sharing a host with a
    /// Service (or with an earlier ServiceEntry) is merged into that one entry: hosts are united and the
    /// ServiceEntry supplies ports and endpoints. That is how the embedded gateway learns where
    /// `web-v1-service` really lives, and it keeps one service per host for `service(forHost:)`.
    public init(resources: [LocatedResource]) {
        var gateways: [Gateway] = []
        var virtualServices: [VirtualService] = []
        var destinationRules: [DestinationRule] = []
        var kubernetesServices: [KubernetesService] = []
        var serviceEntries: [ServiceEntryResource] = []
        for located in resources {
            switch located.resource {
            case .gateway(let value): gateways.append(value)
            case .virtualService(let value): virtualServices.append(value)
            case .destinationRule(let value): destinationRules.append(value)
            case .service(let value): kubernetesServices.append(value)
            case .serviceEntry(let value): serviceEntries.append(value)
            // Canaries drive weights through the controller; routing reads only the VirtualService.
            case .deployment, .canary: break
            }
        }
        var merger = ServiceMerger()
        for service in kubernetesServices { merger.add(service) }
        for entry in serviceEntries { merger.add(entry) }
        self.init(
            gateways: gateways, virtualServices: virtualServices, destinationRules: destinationRules,
            services: merger.services
        )
    }
}
