import SerinCore

/// What every check looks things up in: the built configuration and the gateways by name.
struct ValidationContext {
    let config: MeshConfig
    let gateways: [ResourceName: Gateway]

    init(resources: [LocatedResource]) {
        config = MeshConfig(resources: resources)
        var gateways: [ResourceName: Gateway] = [:]
        for gateway in config.gateways where gateways[gateway.name] == nil {
            gateways[gateway.name] = gateway
        }
        self.gateways = gateways
    }
}
