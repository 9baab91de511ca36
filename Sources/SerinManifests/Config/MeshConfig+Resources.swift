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
        var deployments: [Deployment] = []
        for located in resources {
            switch located.resource {
            case .gateway(let value): gateways.append(value)
            case .virtualService(let value): virtualServices.append(value)
            case .destinationRule(let value): destinationRules.append(value)
            case .service(let value): kubernetesServices.append(value)
            case .serviceEntry(let value): serviceEntries.append(value)
            case .deployment(let value): deployments.append(value)
            // Canaries drive weights through the controller and MetricTemplates feed its analysis;
            // routing reads only the VirtualService.
            case .canary, .metricTemplate, .secret, .alertProvider: break
            }
        }
        var merger = ServiceMerger()
        for service in kubernetesServices { merger.add(service) }
        for entry in serviceEntries { merger.add(entry) }
        let secrets = TLSSecretLookup(secrets: resources.secrets)
        self.init(
            gateways: gateways.map(secrets.resolving), virtualServices: virtualServices, destinationRules: destinationRules,
            services: merger.services.map { $0.naming(workloadsFrom: deployments) }
        )
    }
}

extension MeshService {
    /// Names each endpoint's workload after the Deployment whose pod labels it carries (the seed's
    /// `app: web, version: v2` endpoint is served by Deployment `web-v2`), so telemetry labels
    /// `destination_workload` the way Istio does.
    func naming(workloadsFrom deployments: [Deployment]) -> MeshService {
        var service = self
        service.endpoints = endpoints.map { endpoint in
            guard endpoint.workload == nil, !endpoint.labels.isEmpty else { return endpoint }
            var endpoint = endpoint
            endpoint.workload = deployments.first { deployment in
                deployment.name.namespace == name.namespace && !deployment.templateLabels.isEmpty
                    && deployment.templateLabels.allSatisfy { endpoint.labels[$0.key] == $0.value }
            }?.name.name
            return endpoint
        }
        return service
    }
}
