import SerinCore

/// What every check looks things up in: the built configuration, and the gateways, VirtualServices and
/// MetricTemplates by name.
struct ValidationContext {
    let config: MeshConfig
    let gateways: [ResourceName: Gateway]
    let virtualServices: [ResourceName: VirtualService]
    let metricTemplates: [ResourceName: MetricTemplateSpec]

    init(resources: [LocatedResource]) {
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
        var metricTemplates: [ResourceName: MetricTemplateSpec] = [:]
        for template in resources.metricTemplates where metricTemplates[template.name] == nil {
            metricTemplates[template.name] = template
        }
        self.metricTemplates = metricTemplates
    }
}
