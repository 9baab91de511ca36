import SerinCore
import SerinEmbedded
import SerinGateway
import SerinTesting

extension GatewayRuntime {
    /// The seed's gateway on 127.0.0.1 (ephemeral ports, no controller) in front of backends on `v1` and `v2`;
    /// with `halfToCanary`, web-v1-service and web-v2-service share the traffic half and half instead of v1
    /// taking it all.
    static func seed(v1: Int, v2: Int, threads: Int, halfToCanary: Bool) async throws -> GatewayRuntime {
        let decoded = SeedManifests.resources(SeedManifests.sources(v1: v1, v2: v2))
        let runtime = try await GatewayRuntime.start(
            resources: decoded.resources, threads: threads, bindHost: "127.0.0.1", portMapping: .ephemeral,
            adminHost: "127.0.0.1", adminPort: 0
        )
        guard halfToCanary else { return runtime }
        do {
            try await runtime.live.setWeights(
                in: ResourceName(name: "web-virtualservice"),
                TrafficSplit(stable: WeightedDestination(destination: Destination(host: "web-v1-service", port: 80), weight: 50),
                canary: WeightedDestination(destination: Destination(host: "web-v2-service", port: 80), weight: 50))
            )
        } catch {
            await runtime.shutdown()
            throw error
        }
        return runtime
    }
}
