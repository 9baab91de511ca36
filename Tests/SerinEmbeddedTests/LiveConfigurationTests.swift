import SerinCore
import SerinEmbedded
import SerinGateway
import SerinManifests
import SerinTesting
import Testing

/// The running gateway's resources under changes that overlap: `serin apply` and the controller's weight
/// changes both read the resources, install a new routing table (which waits) and write them back.
@Suite("Live configuration", .timeLimit(.minutes(1)))
struct LiveConfigurationTests {
    /// A ServiceEntry for host `name` with one endpoint on 127.0.0.1:`port`.
    static func serviceEntry(_ name: String, port: Int = 9) -> ManifestSource {
        ManifestSource(path: "\(name).yaml", text: """
            apiVersion: networking.istio.io/v1beta1
            kind: ServiceEntry
            metadata:
              name: \(name)
            spec:
              hosts: [\(name)]
              location: MESH_INTERNAL
              resolution: STATIC
              ports:
              - {number: 80, name: http, protocol: HTTP}
              endpoints:
              - address: 127.0.0.1
                ports: {http: \(port)}
            """)
    }

    @Test("applies and weight changes made at the same time all land: none starts from resources another is replacing")
    func overlappingChangesAllLand() async throws {
        let decoded = SeedManifests.resources(SeedManifests.sources(v1: 9, v2: 9))
        let runtime = try await GatewayRuntime.start(
            resources: decoded.resources, threads: 1, bindHost: "127.0.0.1", portMapping: .ephemeral, adminHost: "127.0.0.1", adminPort: 0
        )
        let live = runtime.live
        let target = ResourceName(name: "web-virtualservice")
        await withTaskGroup(of: Void.self) { changes in
            for index in 0..<20 {
                changes.addTask {
                    let report = await live.apply([Self.serviceEntry("extra-\(index)")])
                    #expect(report.applied, "\(report.diagnostics)")
                }
                changes.addTask {
                    try? await live.setWeights(
                        in: target,
                        stable: WeightedDestination(destination: Destination(host: "web-v1-service", port: 80), weight: 100 - index),
                        canary: WeightedDestination(destination: Destination(host: "web-v2-service", port: 80), weight: index)
                    )
                }
            }
        }
        let resources = await live.resources
        let entries = resources.filter { $0.kind == .serviceEntry && $0.name.name.hasPrefix("extra-") }
        #expect(entries.count == 20, "every apply kept: \(entries.map(\.name.name).sorted())")
        // The weights are those of one whole weight change, not a mix.
        guard case .virtualService(let service)? = resources.first(where: { $0.kind == .virtualService && $0.name == target })?.resource else {
            Issue.record("the VirtualService is gone")
            return
        }
        let weights = service.http.first?.destinations.map(\.weight) ?? []
        #expect(weights.count == 2 && weights.reduce(0, +) == 100, "\(weights)")
        await runtime.shutdown()
    }
}
