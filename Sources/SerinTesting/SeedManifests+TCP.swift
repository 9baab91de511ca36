import SerinManifests

extension SeedManifests {
    /// Istio's "TCP Traffic Shifting" task on 127.0.0.1: a Gateway `tcp-gateway` with a TCP server on port 31400, a
    /// VirtualService `tcp-echo` sending port 31400 to the subsets v1 and v2 of `tcp-echo` by `weights`, the service
    /// as a ServiceEntry with one endpoint per version (`v1Port`, `v2Port`), and the DestinationRule naming the subsets
    /// (with `trafficPolicy`, a flow mapping, when given). `mesh`: no Gateway, and the VirtualService bound to the mesh
    /// alone (no `gateways`), its tcp route serving the service's port 9000 as a sidecar's would.
    public static func tcpEcho(
        v1Port: Int, v2Port: Int, weights: (v1: Int, v2: Int) = (100, 0), trafficPolicy: String? = nil, mesh: Bool = false
    ) -> ManifestSource {
        let gateway = """
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: tcp-gateway}
            spec:
              servers:
              - port: {number: 31400, name: tcp, protocol: TCP}
                hosts: ["*"]
            ---

            """
        return ManifestSource(path: "tcp-echo.yaml", text: (mesh ? "" : gateway) + """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: tcp-echo}
            spec:
              hosts: [\(mesh ? "tcp-echo" : "\"*\"")]\(mesh ? "" : "\n  gateways: [tcp-gateway]")
              tcp:
              - match:
                - port: \(mesh ? 9000 : 31400)
                route:
                - destination: {host: tcp-echo, port: {number: 9000}, subset: v1}
                  weight: \(weights.v1)
                - destination: {host: tcp-echo, port: {number: 9000}, subset: v2}
                  weight: \(weights.v2)
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: tcp-echo}
            spec:
              hosts: [tcp-echo]
              location: MESH_INTERNAL
              resolution: STATIC
              ports:
              - {number: 9000, name: tcp, protocol: TCP}
              endpoints:
              - address: 127.0.0.1
                ports: {tcp: \(v1Port)}
                labels: {app: tcp-echo, version: v1}
              - address: 127.0.0.1
                ports: {tcp: \(v2Port)}
                labels: {app: tcp-echo, version: v2}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: tcp-echo-destination}
            spec:
              host: tcp-echo\(trafficPolicy.map { "\n  trafficPolicy: \($0)" } ?? "")
              subsets:
              - {name: v1, labels: {version: v1}}
              - {name: v2, labels: {version: v2}}
            """)
    }

    /// A Canary `tcp-echo` releasing tcp-echo's subset v2 over v1 on the tcp route of `tcpEcho`, its `analysis` as
    /// written (lines indented four spaces, under `analysis:`).
    public static func tcpEchoCanary(analysis: String) -> ManifestSource {
        ManifestSource(path: "tcp-canary.yaml", text: """
            apiVersion: serin.dev/v1alpha1
            kind: Canary
            metadata: {name: tcp-echo}
            spec:
              targetRef: {name: tcp-echo}
              stable: {host: tcp-echo, subset: v1, port: 9000}
              canary: {host: tcp-echo, subset: v2, port: 9000}
              analysis:
            \(analysis)
            """)
    }
}
