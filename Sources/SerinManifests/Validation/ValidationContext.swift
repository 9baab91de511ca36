import SerinCore

/// What every check looks things up in: the built configuration, and the gateways and VirtualServices by name.
struct ValidationContext {
    let config: MeshConfig
    let gateways: [ResourceName: Gateway]
    let virtualServices: [ResourceName: VirtualService]

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
    }
}
