import SerinCore
import SerinListener
import SerinGateway
import SerinManifests
import SerinTesting
import Testing

/// A gateway on ephemeral ports serving manifests a test writes around the demo app's v1, torn down after the body
/// whether it passed or threw.
enum ServedGateway {
    /// `sources` gets v1's port and returns the manifests; the gateway serves them with two threads and `limits`.
    static func serve(
        _ sources: (Int) throws -> [ManifestSource], limits: GatewayLimits = .default, _ body: (GatewayServer) async throws -> Void
    ) async throws {
        let backends = TestBackends()
        let v1 = try await backends.start("v1")
        let server = GatewayServer(threads: 2, portMapping: .ephemeral, limits: limits)
        do {
            let set = ManifestSet(sources: try sources(v1.port))
            #expect(set.errors.isEmpty, "\(set.errors)")
            try await server.install(RouteTable(compiling: set.config))
            try await body(server)
        } catch {
            await server.shutdown()
            await v1.close()
            await backends.shutdown()
            throw error
        }
        await server.shutdown()
        await v1.close()
        await backends.shutdown()
    }
}
