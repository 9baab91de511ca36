/// What every connection on one PASSTHROUGH or TCP port shares: the live routes, the clusters' state, the telemetry,
/// the port as declared, the limits, the port's HTTPS servers when it has any (a server name no PASSTHROUGH server
/// lists is terminated by them), and whether its connections are plain TCP, routed by port.
struct PassthroughPort {
    let routes: RouteTableBox
    let clusters: UpstreamClusters
    let telemetry: GatewayTelemetry
    let declaredPort: Int
    let limits: GatewayLimits
    let terminating: PortTLS?
    /// A TCP server's port: a connection is routed as it opens, by the port, with no ClientHello to wait for (the
    /// destination may be the one to speak first).
    let plainTCP: Bool
    /// One of the mesh's ports: routed by the mesh's tcp routes for this service port (`RouteTable.meshTCP`), or on a
    /// TLS port by server name (`RouteTable.meshTLS`).
    var inMesh = false
}
