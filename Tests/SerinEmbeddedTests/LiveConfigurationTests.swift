import Foundation
import NIOHTTP1
import SerinCore
import SerinServer
import SerinStore
@testable import SerinEmbedded
import SerinGateway
import SerinListener
import SerinManifests
import SerinTesting
import Testing

/// The running gateway's resources under changes that overlap: `serin apply` and the controller's weight
/// changes both read the resources, install a new routing table (which waits) and write them back.
@Suite("Live configuration", .timeLimit(.minutes(1)))
struct LiveConfigurationTests {
    @Test("applies and weight changes made at the same time all land: none starts from resources another is replacing")
    func overlappingChangesAllLand() async throws {
        let runtime = try await GatewayRuntime.seed(v1: 9, v2: 9, threads: 1, halfToCanary: false)
        let live = runtime.live
        let target = ResourceName(name: "web-virtualservice")
        await withTaskGroup(of: Void.self) { changes in
            for index in 0..<20 {
                changes.addTask {
                    let report = await live.apply([SeedManifests.serviceEntry("extra-\(index)", port: 9, version: "extra")])
                    #expect(report.applied, "\(report.diagnostics)")
                }
                changes.addTask {
                    try? await live.setWeights(
                        in: target,
                        TrafficSplit(stable: WeightedDestination(destination: Destination(host: "web-v1-service", port: 80), weight: 100 - index),
                        canary: WeightedDestination(destination: Destination(host: "web-v2-service", port: 80), weight: index))
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

    @Test("an apply with no resource in it is an error, as kubectl's \"no objects passed to apply\", and changes nothing; skipped kinds say why")
    func emptyApply() async throws {
        let runtime = try await GatewayRuntime.seed(v1: 9, v2: 9, threads: 1, halfToCanary: false)
        let live = runtime.live
        let before = await live.resources
        let empty = await live.apply([ManifestSource(path: "empty.yaml", text: "# nothing yet\n---\n")])
        #expect(!empty.applied)
        #expect(empty.diagnostics == ["error: no objects passed to apply: empty.yaml holds no resource Serin serves"])
        let skipped = await live.apply([
            ManifestSource(path: "pdb.yaml", text: "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web}\nspec: {}\n")
        ])
        #expect(!skipped.applied)
        #expect(skipped.diagnostics.count == 2, "\(skipped)")
        #expect(skipped.diagnostics.first?.contains("PodDisruptionBudget") == true, "\(skipped)")
        #expect(await live.resources == before)
        await runtime.shutdown()
    }

    @Test("an apply says which gateway ports it opened and closed: a Gateway applied to a gateway that had none, then moved to another port")
    func applySaysWhereTrafficArrives() async throws {
        let sources = SeedManifests.sources(v1: 9, v2: 9)
        let routes = try #require(sources.first { $0.path.hasSuffix("web-gateway-virtualservice.yaml") })
        let runtime = try await GatewayRuntime.start(
            resources: SeedManifests.resources(sources.filter { $0.path != routes.path }).resources, threads: 1, bindHost: "127.0.0.1",
            portMapping: .ephemeral, adminHost: "127.0.0.1", adminPort: 0
        )
        #expect(runtime.gateway.boundPorts.isEmpty)
        let opened = await runtime.live.apply([routes])
        let port = try #require(runtime.gateway.boundPorts[80])
        #expect(opened.results == [
            "gateway/web-gateway created", "virtualservice/web-virtualservice created", "gateway port 80 listening on 127.0.0.1:\(port)",
        ], "\(opened)")
        var moved = routes
        moved.text = routes.text.replacingOccurrences(of: "      number: 80\n      name: http", with: "      number: 81\n      name: http")
        let reply = await runtime.live.apply([moved])
        let newPort = try #require(runtime.gateway.boundPorts[81])
        #expect(reply.results == [
            "gateway/web-gateway configured", "virtualservice/web-virtualservice unchanged", "gateway port 81 listening on 127.0.0.1:\(newPort)",
            "gateway port 80 closed",
        ], "\(reply)")
        let again = await runtime.live.apply([moved])
        #expect(again.results == ["gateway/web-gateway unchanged", "virtualservice/web-virtualservice unchanged"], "\(again)")
        await runtime.shutdown()
    }

    @Test("an apply naming one resource twice is refused as serin validate refuses it, and changes nothing; applied again unchanged, it says so")
    func duplicateInOneApply() async throws {
        let runtime = try await GatewayRuntime.seed(v1: 9, v2: 9, threads: 1, halfToCanary: false)
        let live = runtime.live
        let entry: (String) -> String = { address in
            """
            apiVersion: networking.istio.io/v1beta1
            kind: ServiceEntry
            metadata: {name: web-v3-service}
            spec:
              hosts: [web-v3-service]
              location: MESH_INTERNAL
              resolution: STATIC
              ports: [{number: 80, name: http, protocol: HTTP}]
              endpoints: [{address: \(address)}]
            """
        }
        let before = await live.resources
        let twice = await live.apply([ManifestSource(path: "v3.yaml", text: entry("127.0.0.1") + "\n---\n" + entry("127.0.0.2"))])
        #expect(!twice.applied)
        #expect(twice.diagnostics == ["v3.yaml:11:1: error: duplicate ServiceEntry default/web-v3-service: already defined at v3.yaml:1:1"])
        #expect(await live.resources == before)
        let once = await live.apply([ManifestSource(path: "v3.yaml", text: entry("127.0.0.1"))])
        #expect(once.results == ["serviceentry/web-v3-service created"], "\(once)")
        let again = await live.apply([ManifestSource(path: "v3.yaml", text: entry("127.0.0.1"))])
        #expect(again.results == ["serviceentry/web-v3-service unchanged"], "\(again)")
        await runtime.shutdown()
    }

    @Test("weight for a canary nothing serves is refused and the routes stay as they were; weight 0 for it (a rollback) is not refused")
    func canaryWithoutEndpointsKeepsTheRoutes() async throws {
        let runtime = try await GatewayRuntime.seed(v1: 9, v2: 9, threads: 1, halfToCanary: false)
        let live = runtime.live
        let target = ResourceName(name: "web-virtualservice")
        func split(_ canaryHost: String, _ canaryWeight: Int) -> TrafficSplit {
            TrafficSplit(
                stable: WeightedDestination(destination: Destination(host: "web-v1-service", port: 80), weight: 100 - canaryWeight),
                canary: WeightedDestination(destination: Destination(host: canaryHost, port: 80), weight: canaryWeight))
        }
        let before = try await live.servingRoutes(of: target)
        // A release of v3 after a restart lost the ServiceEntry that `serin apply` had added for it.
        await #expect(
            throws: TrafficRouterError.canaryUnservable(target, host: "web-v3-service", why: "resolves to no Service or ServiceEntry")
        ) {
            try await live.setWeights(in: target, split("web-v3-service", 20))
        }
        #expect(try await live.servingRoutes(of: target) == before)
        // An entry with no endpoints is no better.
        let entry = """
            apiVersion: networking.istio.io/v1beta1
            kind: ServiceEntry
            metadata: {name: web-v3-service}
            spec: {hosts: [web-v3-service], location: MESH_INTERNAL, resolution: STATIC, ports: [{number: 80, name: http, protocol: HTTP}]}
            """
        let empty = await live.apply([ManifestSource(path: "web-v3-service.yaml", text: entry)])
        #expect(empty.applied, "\(empty.diagnostics)")
        await #expect(throws: TrafficRouterError.canaryUnservable(target, host: "web-v3-service", why: "has no endpoints")) {
            try await live.setWeights(in: target, split("web-v3-service", 20))
        }
        #expect(try await live.servingRoutes(of: target) == before)
        try await live.setWeights(in: target, split("web-v3-service", 0))
        try await live.setWeights(in: target, split("web-v2-service", 20))
        #expect(try await live.servingRoutes(of: target) != before)
        await runtime.shutdown()
    }
}

extension LiveConfigurationTests {
    @Test("weights set for many rollouts at once each succeed or fail alone: one whose canary serves nothing is refused with its routes kept, the others are set; splits asked for together go in with one routing table")
    func concurrentSplitsShareTables() async throws {
        let runtime = try await GatewayRuntime.seed(v1: 9, v2: 9, threads: 1, halfToCanary: false)
        let live = runtime.live
        let names = (0..<40).map { "vs-\($0)" }
        let yaml = names.map { name in
            "apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata: {name: \(name)}\nspec: {hosts: [\(name).example.com], "
                + "gateways: [web-gateway], http: [{route: [{destination: {host: web-v1-service, port: {number: 80}}}]}]}"
        }.joined(separator: "\n---\n")
        let applied = await live.apply([ManifestSource(path: "many.yaml", text: yaml)])
        #expect(applied.applied, "\(applied.diagnostics)")
        func split(_ canaryHost: String) -> TrafficSplit {
            TrafficSplit(
                stable: WeightedDestination(destination: Destination(host: "web-v1-service", port: 80), weight: 70),
                canary: WeightedDestination(destination: Destination(host: canaryHost, port: 80), weight: 30))
        }
        let generation = runtime.gateway.routes.generation
        let failures = await withTaskGroup(of: (String, String?).self) { group in
            for name in names {
                group.addTask {
                    do {
                        try await live.setWeights(in: ResourceName(name: name), split(name == "vs-7" ? "web-v3-service" : "web-v2-service"))
                        return (name, nil)
                    } catch {
                        return (name, "\(error)")
                    }
                }
            }
            var failures: [String: String] = [:]
            for await (name, failure) in group { failures[name] = failure }
            return failures
        }
        #expect(failures == [
            "vs-7": "VirtualService default/vs-7 keeps its weights: canary web-v3-service resolves to no Service or ServiceEntry, so its requests would be answered 503",
        ])
        // How many tables the concurrent calls took depends on how they overlapped (scripts/bench-canaries.sh measures
        // it); asked for together, they take one.
        #expect(runtime.gateway.routes.generation > generation)
        for name in names {
            let routes = try await live.servingRoutes(of: ResourceName(name: name)).routes
            let expected = name == "vs-7"
                ? [[WeightedDestination(destination: Destination(host: "web-v1-service", port: 80), weight: 100)]]
                : [[split("web-v2-service").stable, split("web-v2-service").canary]]
            #expect(routes == expected, "\(name)")
        }
        // The next step of each, asked for together: one table.
        func next(_ canaryHost: String) -> TrafficSplit {
            TrafficSplit(
                stable: WeightedDestination(destination: Destination(host: "web-v1-service", port: 80), weight: 40),
                canary: WeightedDestination(destination: Destination(host: canaryHost, port: 80), weight: 60))
        }
        let together = runtime.gateway.routes.generation
        let outcomes = await live.setWeights(names.map { (ResourceName(name: $0), next($0 == "vs-7" ? "web-v3-service" : "web-v2-service")) })
        #expect(outcomes.indices.filter { outcomes[$0] != nil }.map { names[$0] } == ["vs-7"])
        #expect(runtime.gateway.routes.generation == together + 1, "one routing table for \(names.count) splits")
        #expect(try await live.servingRoutes(of: ResourceName(name: "vs-3")).routes == [[next("web-v2-service").stable, next("web-v2-service").canary]])
        // What the gateway serves is what the resources say.
        let served = runtime.gateway.routes.table.routedDestinations(mesh: false)
        #expect(served[RouteTable.RoutedDestination(virtualService: ResourceName(name: "vs-3"), destination: Destination(host: "web-v2-service", port: 80))]?.share == 60)
        #expect(served[RouteTable.RoutedDestination(virtualService: ResourceName(name: "vs-7"), destination: Destination(host: "web-v3-service", port: 80))] == nil)
        await runtime.shutdown()
    }

    @Test("an apply that leaves a destination served now with no endpoints is refused at the resource that took them, and requests go on being answered; routed elsewhere in the same apply, it is applied")
    func applyKeepsServedDestinationsServed() async throws {
        let backends = TestBackends(threads: 1)
        let v1 = try await backends.start("v1")
        let v2 = try await backends.start("v2")
        let runtime = try await GatewayRuntime.seed(v1: v1.port, v2: v2.port, threads: 1, halfToCanary: true)
        let live = runtime.live
        let port = try #require(runtime.gateway.boundPort(forDeclared: 80))
        let client = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: port, group: backends.group)
        func versions() async throws -> Set<String> {
            var seen: Set<String> = []
            for _ in 0..<40 {
                let response = try await client.send(.GET, "/")
                #expect(response.status == 200)
                seen.insert(response.header("x-serin-demo-version") ?? "none")
            }
            return seen
        }
        let before = await live.resources
        // The stable's ServiceEntry renamed to another host: web-v1-service is left a Service with no endpoints.
        var moved = SeedManifests.serviceEntry("web-v1-service", port: v1.port, version: "v1")
        moved.text = moved.text.replacingOccurrences(of: "hosts: [web-v1-service]", with: "hosts: [web-v1-elsewhere]")
        let refused = await live.apply([moved])
        #expect(!refused.applied)
        #expect(refused.diagnostics == [
            "web-v1-service.yaml:4:9: error: serviceentry/web-v1-service: after this apply, web-v1-service:80 has no endpoints, yet virtualservice/web-virtualservice sends it 50% of a route's requests now: they would be answered 503, so nothing was applied (route those requests elsewhere first, in this apply or before it)"
        ], "\(refused)")
        #expect(await live.resources == before)
        #expect(try await versions() == ["v1", "v2"])
        // With the route sending everything to v2 in the same apply, nothing served loses its endpoints.
        let seed = try #require(SeedManifests.sources(v1: v1.port, v2: v2.port).first { $0.path.hasSuffix("web-gateway-virtualservice.yaml") })
        var routes = seed
        routes.text = seed.text.replacingOccurrences(of: "host: web-v1-service", with: "host: web-v2-service")
        let applied = await live.apply([routes, moved])
        #expect(applied.applied, "\(applied)")
        #expect(try await versions() == ["v2"])
        await client.close()
        await runtime.shutdown()
        await v1.close()
        await v2.close()
        await backends.shutdown()
    }

    @Test("at start-up the files' VirtualService takes the stored rollout's routes: a version a promotion retired gets none")
    func startUpKeepsStoredRoutes() throws {
        let decoded = SeedManifests.resources(SeedManifests.sources(v1: 9, v2: 9) + [SeedManifests.canary(stableHost: nil)])
        #expect(decoded.errors.isEmpty, "\(decoded.errors)")
        let spec = try #require(decoded.resources.canaries.first)
        var rollout = try Rollout(spec: spec, stable: Destination(host: "web-v1-service", port: 80))
        _ = rollout.start(now: RolloutInstant(sinceEpoch: .zero))
        _ = rollout.promote(now: RolloutInstant(sinceEpoch: .seconds(1)))
        func route(_ resources: [LocatedResource]) -> [String: Int] {
            let virtualService = MeshConfig(resources: resources).virtualServices.first { $0.name.name == "web-virtualservice" }
            var weights: [String: Int] = [:]
            for entry in virtualService?.http.first?.destinations ?? [] { weights[entry.destination.host] = entry.weight }
            return weights
        }
        #expect(route(decoded.resources) == ["web-v1-service": 100])
        #expect(route(LiveConfiguration.routing(decoded.resources, as: [rollout])) == ["web-v1-service": 0, "web-v2-service": 100])
        // A rollout not yet started owns nothing.
        let unstarted = try Rollout(spec: spec, stable: Destination(host: "web-v1-service", port: 80))
        #expect(route(LiveConfiguration.routing(decoded.resources, as: [unstarted])) == ["web-v1-service": 100])
        // The next release brings v1 back (v2 serves): the files' route to v1 alone is still the rollout's, so a
        // restart from them keeps its split instead of sending everything to the canary.
        var back = spec
        back.canary = Destination(host: "web-v1-service", port: 80)
        var again = try Rollout(spec: back, stable: Destination(host: "web-v2-service", port: 80))
        _ = again.start(now: RolloutInstant(sinceEpoch: .seconds(2)))
        #expect(again.status.canaryWeight == 20)
        #expect(route(LiveConfiguration.routing(decoded.resources, as: [again])) == ["web-v2-service": 80, "web-v1-service": 20])
    }

    @Test(
        "at start-up after v1 → v2 and v2 → v4 promoted and v4 → v3 rolled back, the files' route to v1 takes the stored routes: all traffic on v4, none on a version retired two releases ago"
    )
    func startUpAfterSeveralReleases() throws {
        let entries = [("web-v3-service", "v3"), ("web-v4-service", "v4")].map { SeedManifests.serviceEntry($0.0, port: 9, version: $0.1) }
        let seedCanary = SeedManifests.canary(stableHost: nil)
        func resources(canary: String) -> [LocatedResource] {
            let canarySource = ManifestSource(path: seedCanary.path, text: seedCanary.text.replacingOccurrences(of: "web-v2-service", with: canary))
            let decoded = SeedManifests.resources(SeedManifests.sources(v1: 9, v2: 9) + entries + [canarySource])
            #expect(decoded.errors.isEmpty, "\(decoded.errors)")
            return decoded.resources
        }
        func spec(canary: String) throws -> CanarySpec { try #require(resources(canary: canary).canaries.first) }
        var rollout = try Rollout(spec: spec(canary: "web-v2-service"), stable: Destination(host: "web-v1-service", port: 80))
        var second = 0
        func now() -> RolloutInstant {
            second += 1
            return RolloutInstant(sinceEpoch: .seconds(second))
        }
        _ = rollout.start(now: now())
        _ = rollout.promote(now: now())
        for (canary, ending) in [("web-v4-service", "promote"), ("web-v3-service", "abort")] {
            _ = rollout.specChanged(try spec(canary: canary), now: now())
            _ = rollout.restart(now: now())
            _ = ending == "promote" ? rollout.promote(now: now()) : rollout.abort(now: now())
        }
        #expect(rollout.status.stable.host == "web-v4-service")
        let files = resources(canary: "web-v3-service")
        let virtualService = MeshConfig(resources: LiveConfiguration.routing(files, as: [rollout])).virtualServices.first { $0.name.name == "web-virtualservice" }
        let weights = Dictionary(uniqueKeysWithValues: (virtualService?.http.first?.destinations ?? []).map { ($0.destination.host, $0.weight) })
        #expect(weights == ["web-v4-service": 100, "web-v3-service": 0])
    }

    @Test("a refusal about spec.stable points at the stable's host, worded as apply says it or as the controller logs it at start-up")
    func refusalPointsAtStable() throws {
        let decoded = SeedManifests.resources(SeedManifests.sources(v1: 9, v2: 9) + [SeedManifests.canary()])
        let located = try #require(decoded.resources.first { $0.kind == .canary })
        guard case .canary(let spec) = located.resource else { return }
        let stableHost = located.location(of: "spec.stable.host")
        #expect(stableHost != located.location(of: "spec.canary.host"))
        let why = "spec.stable is web-v1-service:80, but web-v2-service:80 serves"
        #expect(LiveConfiguration.refusalLocation(why, of: spec, at: located) == stableHost)
        #expect(LiveConfiguration.refusalLocation(CanaryStatus.refusalMessage(why), of: spec, at: located) == stableHost)
        #expect(LiveConfiguration.refusalLocation("canary web-v2-service has no endpoints", of: spec, at: located) == located.location(of: "spec.canary.host"))
    }

    @Test("at start-up a stored split whose canary nothing serves in the files keeps the canary's share on the stable, and says which split it withheld")
    func startUpWithholdsUnservableCanary() throws {
        // The files lost the canary's ServiceEntry (it was added with `serin apply`): its Service has no endpoints.
        let sources = SeedManifests.dropping(serviceEntry: "web-v2-service", from: SeedManifests.sources(v1: 9, v2: 9))
        let decoded = SeedManifests.resources(sources + [SeedManifests.canary(stableHost: nil)])
        #expect(decoded.errors.isEmpty, "\(decoded.errors)")
        let spec = try #require(decoded.resources.canaries.first)
        var rollout = try Rollout(spec: spec, stable: Destination(host: "web-v1-service", port: 80))
        _ = rollout.start(now: RolloutInstant(sinceEpoch: .zero))
        #expect(rollout.split.canary.weight > 0)
        let (resources, withheld, _) = LiveConfiguration.routingWithheld(decoded.resources, as: [rollout])
        let virtualService = MeshConfig(resources: resources).virtualServices.first { $0.name.name == "web-virtualservice" }
        let weights = Dictionary(uniqueKeysWithValues: (virtualService?.http.first?.destinations ?? []).map { ($0.destination.host, $0.weight) })
        #expect(weights == ["web-v1-service": 100, "web-v2-service": 0])
        #expect(withheld.map(\.split) == [rollout.split])
        #expect(withheld.first?.canary == spec.name)
        #expect(withheld.first?.reason == "VirtualService default/web-virtualservice keeps its weights: canary web-v2-service has no endpoints, so its requests would be answered 503")
    }

    @Test("at start-up a stored split whose stable nothing serves in the files is a reason to refuse the start, naming the Canary, the share and the host; a stable that serves is none")
    func startUpRefusesUnservableStable() throws {
        let decodedAll = SeedManifests.resources(SeedManifests.sources(v1: 9, v2: 9) + [SeedManifests.canary(stableHost: nil)])
        let spec = try #require(decodedAll.resources.canaries.first)
        var rollout = try Rollout(spec: spec, stable: Destination(host: "web-v1-service", port: 80))
        _ = rollout.start(now: RolloutInstant(sinceEpoch: .zero))
        #expect(rollout.split.stable.weight > 0)
        #expect(LiveConfiguration.routingWithheld(decodedAll.resources, as: [rollout]).strandedStables.isEmpty)
        // The files lost the stable's ServiceEntry (it was added with `serin apply`): its Service has no endpoints.
        let sources = SeedManifests.dropping(serviceEntry: "web-v1-service", from: SeedManifests.sources(v1: 9, v2: 9))
        let decoded = SeedManifests.resources(sources + [SeedManifests.canary(stableHost: nil)])
        #expect(decoded.errors.isEmpty, "\(decoded.errors)")
        #expect(LiveConfiguration.routingWithheld(decoded.resources, as: [rollout]).strandedStables == [
            "Canary web: its stored rollout sends \(rollout.split.stable.weight)% of VirtualService web-virtualservice's requests to its stable "
                + "web-v1-service:80, which has no endpoints in these files: a resource added with serin apply lasts only as long as the "
                + "process; write it in the files serin up starts from, then start again",
        ])
    }

    @Test("serin up's runtime refuses to start from files that cannot serve a stored rollout's stable, listening on nothing, and starts once they can")
    func runtimeRefusesStrandedStable() async throws {
        let decodedAll = SeedManifests.resources(SeedManifests.sources(v1: 9, v2: 9) + [SeedManifests.canary(stableHost: nil)])
        let spec = try #require(decodedAll.resources.canaries.first)
        var rollout = try Rollout(spec: spec, stable: Destination(host: "web-v1-service", port: 80))
        _ = rollout.start(now: RolloutInstant(sinceEpoch: .zero))
        let state = try SerinProcess.temporaryDirectory().appendingPathComponent("state.sqlite").path
        let store = try SQLiteRolloutStore(path: state)
        try store.save(rollout, events: [], measurements: [])
        store.close()
        let sources = SeedManifests.dropping(serviceEntry: "web-v1-service", from: SeedManifests.sources(v1: 9, v2: 9))
        let decoded = SeedManifests.resources(sources + [SeedManifests.canary(stableHost: nil)])
        do {
            let runtime = try await GatewayRuntime.start(
                resources: decoded.resources, threads: 1, bindHost: "127.0.0.1", portMapping: .ephemeral, adminHost: "127.0.0.1", adminPort: 0,
                controller: .init(statePath: state, tickInterval: .milliseconds(50), logger: .discarding))
            await runtime.shutdown()
            Issue.record("started with a stored stable the files cannot serve")
        } catch let error as GatewayRuntime.StartError {
            #expect("\(error)".contains("its stored rollout sends"), "\(error)")
            #expect("\(error)".hasSuffix("(nothing was started: its requests would have been answered 503)"), "\(error)")
        }
        // The files that say where the stable lives start it, the stored rollout and all.
        let runtime = try await GatewayRuntime.start(
            resources: decodedAll.resources, threads: 1, bindHost: "127.0.0.1", portMapping: .ephemeral, adminHost: "127.0.0.1", adminPort: 0,
            controller: .init(statePath: state, tickInterval: .milliseconds(50), logger: .discarding))
        await runtime.shutdown()
    }
}
