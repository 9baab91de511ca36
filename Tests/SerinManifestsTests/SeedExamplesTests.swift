import SerinCore
import SerinManifests
import Testing

@Suite("Seed examples")
struct SeedExamplesTests {
    private static let seed = Fixture.seedDirectory

    /// The seed directory, with the base VirtualService file swapped for `step` when given.
    private func seedSet(step: String? = nil) -> ManifestSet {
        var loaded = ManifestLoader.load(paths: [Self.seed], recursive: false)
        #expect(loaded.diagnostics.isEmpty)
        if let step {
            let stepSources = ManifestLoader.load(paths: ["\(Self.seed)/steps/\(step)"], recursive: false).sources
            #expect(stepSources.count == 1)
            loaded.sources.removeAll { $0.path.hasSuffix("/web-gateway-virtualservice.yaml") }
            loaded.sources += stepSources
        }
        return ManifestSet(sources: loaded.sources)
    }

    private func weights(in set: ManifestSet) -> [String: Int] {
        let route = set.config.virtualServices.first?.http.first
        var result: [String: Int] = [:]
        for destination in route?.destinations ?? [] { result[destination.destination.host] = destination.weight }
        return result
    }

    @Test("the seed directory has no errors; only the legacy Deployment API is warned about")
    func seedDecodes() {
        let set = seedSet()
        #expect(!set.hasErrors, "\(Fixture.messages(set.errors))")
        #expect(
            Fixture.messages(set.warnings) == [
                "\(Self.seed)/web-v1-deployment.yaml:1:1: warning: Deployment web-v1 uses extensions/v1beta1, which Kubernetes removed in 1.16; use apps/v1",
                "\(Self.seed)/web-v2-deployment.yaml:1:1: warning: Deployment web-v2 uses extensions/v1beta1, which Kubernetes removed in 1.16; use apps/v1",
            ]
        )
        #expect(set.resources.count == 8)
        #expect(weights(in: set) == ["web-v1-service": 100])
    }

    @Test("the 90/10 step sends 90 to v1 and 10 to v2", arguments: [
        ("web-gateway-virtualservice-90-10.yaml", 90, 10),
        ("web-gateway-virtualservice-0-100.yaml", 0, 100),
    ])
    func steps(file: String, v1: Int, v2: Int) {
        let set = seedSet(step: file)
        #expect(!set.hasErrors, "\(Fixture.messages(set.errors))")
        #expect(weights(in: set) == ["web-v1-service": v1, "web-v2-service": v2])
    }

    @Test("re-applying with the 90/10 step leaves the Gateway unchanged and changes the VirtualService")
    func unchangedVersusConfigured() {
        let before = seedSet().resources
        let after = seedSet(step: "web-gateway-virtualservice-90-10.yaml").resources
        func find(_ kind: ResourceKind, in resources: [LocatedResource]) -> Resource? {
            resources.first { $0.kind == kind }?.resource
        }
        #expect(find(.gateway, in: before) == find(.gateway, in: after))
        #expect(find(.virtualService, in: before) != find(.virtualService, in: after))
    }

    @Test("the compiled seed routes GET / on port 80 to web-v1-service at its ServiceEntry endpoint")
    func routesEndToEnd() {
        let table = RouteTable(compiling: seedSet().config)
        let home = RequestAttributes(method: "GET", target: "/", authority: "localhost", headers: HeaderList())
        guard case .route(let route) = table.resolve(home, port: 80) else {
            Issue.record("GET / on port 80 found no route")
            return
        }
        #expect(route.virtualService == ResourceName(name: "web-virtualservice"))
        #expect(route.targets.map(\.destination.host) == ["web-v1-service"])
        // The endpoint's workload is the seed's Deployment whose pod labels it carries.
        #expect(route.targets.first?.cluster.endpoints == [
            Cluster.Endpoint(address: "127.0.0.1", port: 18081, labels: ["app": "web", "version": "v1"], workload: "web-v1"),
        ])
        let other = RequestAttributes(method: "GET", target: "/other", authority: "localhost", headers: HeaderList())
        guard case .noRoute = table.resolve(other, port: 80) else {
            Issue.record("GET /other should match no route: the seed matches exactly /")
            return
        }
    }
}
