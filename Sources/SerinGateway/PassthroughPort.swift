/// What every connection on one PASSTHROUGH port shares: the live routes, the clusters' state, the telemetry, the
/// port as declared, the limits, and the port's HTTPS servers when it has any (a server name no PASSTHROUGH server
/// lists is terminated by them).
struct PassthroughPort {
    let routes: RouteTableBox
    let clusters: UpstreamClusters
    let telemetry: GatewayTelemetry
    let declaredPort: Int
    let limits: GatewayLimits
    let terminating: PortTLS?
}
