import SerinCore

/// What every check looks things up in: the built configuration, and the gateways, VirtualServices and
/// MetricTemplates by name.
struct ValidationContext {
    let config: MeshConfig
    let gateways: [ResourceName: Gateway]
    let virtualServices: [ResourceName: VirtualService]
    /// The VirtualServices some VirtualService's http route names in its `delegate`: gathered once, so telling
    /// each host-less VirtualService whether it has a root is not a scan of them all.
    let delegated: Set<ResourceName>
    let metricTemplates: [ResourceName: MetricTemplateSpec]
    private let unread: [ResourceKind: [ResourceName: SourceLocation]]

    init(resources: [LocatedResource], unread: [UnreadResource] = []) {
        var unreadByKind: [ResourceKind: [ResourceName: SourceLocation]] = [:]
        for resource in unread where unreadByKind[resource.kind]?[resource.name] == nil {
            unreadByKind[resource.kind, default: [:]][resource.name] = resource.location
        }
        self.unread = unreadByKind
        config = MeshConfig(resources: resources)
        var gateways: [ResourceName: Gateway] = [:]
        for gateway in config.gateways where gateways[gateway.name] == nil {
            gateways[gateway.name] = gateway
        }
        self.gateways = gateways
        // The first of duplicates wins, as for gateways; the duplicate itself is reported separately.
        var virtualServices: [ResourceName: VirtualService] = [:]
        for virtualService in config.virtualServices where virtualServices[virtualService.name] == nil {
            virtualServices[virtualService.name] = virtualService
        }
        self.virtualServices = virtualServices
        delegated = Set(virtualServices.values.flatMap { $0.http.compactMap(\.delegate) })
        var metricTemplates: [ResourceName: MetricTemplateSpec] = [:]
        for template in resources.metricTemplates where metricTemplates[template.name] == nil {
            metricTemplates[template.name] = template
        }
        self.metricTemplates = metricTemplates
    }

    /// Where the first error is of a `kind` named `name` that is in the files but was not read for its errors.
    func unread(_ kind: ResourceKind, _ name: ResourceName) -> SourceLocation? {
        unread[kind]?[name]
    }
}
