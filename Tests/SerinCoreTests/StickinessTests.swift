import Foundation
import SerinCore
import Testing

@Suite("Hash-sticky split")
struct StickinessTests {
    static let keys = (0..<1_000).map { "user-\($0)" }

    /// A route a rollout owns: stable first, canary last, with the split's stickiness.
    static func route(canaryWeight: Int, stickiness: Stickiness? = .header("x-user-id")) -> RouteTable.Route {
        var http = HTTPRoute(destinations: [
            WeightedDestination(destination: Destination(host: "stable"), weight: 100 - canaryWeight),
            WeightedDestination(destination: Destination(host: "canary"), weight: canaryWeight),
        ])
        http.stickiness = stickiness
        let config = MeshConfig(
            gateways: [Gateway(name: ResourceName(name: "g"), servers: [.init(port: 80, protocol: "HTTP", hosts: ["*"])])],
            virtualServices: [VirtualService(
                name: ResourceName(name: "vs"), hosts: ["*"], gateways: [ResourceName(name: "g")], http: [http])]
        )
        return RouteTable(compiling: config).listeners[80]!.virtualHosts[0].routes[0]
    }

    static func onCanary(at weight: Int) -> Set<String> {
        let route = route(canaryWeight: weight)
        return Set(keys.filter { route.target(forPoint: StickyPoint.of($0.utf8))?.destination.host == "canary" })
    }

    static func request(_ headers: [(name: String, value: String)]) -> RequestAttributes {
        RequestAttributes(method: "GET", target: "/", authority: "web", headers: HeaderList(headers))
    }

    @Test("a key's point is fixed (not Swift's per-process Hasher) and lies in 0..<10,000")
    func pointIsStable() {
        #expect(StickyPoint.of("user-1".utf8) == StickyPoint.of(Array("user-1".utf8)))
        #expect(StickyPoint.of("user-1".utf8) == 7_624, "the same in every process and on every machine")
        #expect(Self.keys.allSatisfy { (0..<StickyPoint.scale).contains(StickyPoint.of($0.utf8)) })
        #expect(Set(Self.keys.map { StickyPoint.of($0.utf8) }).count > 900, "1,000 keys spread over the range")
    }

    @Test("the canary takes exactly the points below its weight × 100; the stable the rest")
    func canaryTakesLowPoints() {
        let route = Self.route(canaryWeight: 10)
        #expect(route.target(forPoint: 0)?.destination.host == "canary")
        #expect(route.target(forPoint: 999)?.destination.host == "canary")
        #expect(route.target(forPoint: 1_000)?.destination.host == "stable")
        #expect(route.target(forPoint: 9_999)?.destination.host == "stable")
        #expect(Self.route(canaryWeight: 0).target(forPoint: 0)?.destination.host == "stable")
        #expect(Self.route(canaryWeight: 100).target(forPoint: 9_999)?.destination.host == "canary")
    }

    @Test("as the weight rises step by step from 0 to 100, the set of keys on the canary only grows")
    func keysOnlyMoveToCanary() {
        var previous = Set<String>()
        for weight in 0...100 {
            let now = Self.onCanary(at: weight)
            #expect(previous.isSubset(of: now), "at \(weight)%, \(previous.subtracting(now).sorted().prefix(3)) went back to stable")
            previous = now
        }
        #expect(previous.count == Self.keys.count)
    }

    @Test("the share of 1,000 keys on the canary is near its weight", arguments: [10, 50, 90])
    func shareNearWeight(weight: Int) {
        let share = Double(Self.onCanary(at: weight).count) / Double(Self.keys.count)
        let p = Double(weight) / 100
        let sigma = (p * (1 - p) / Double(Self.keys.count)).squareRoot()
        #expect(abs(share - p) <= 4 * sigma, "\(share) of keys on the canary at \(weight)%")
    }

    @Test("the key comes from the header (any case), or from the named cookie; a request without it has no point")
    func keyFromRequest() {
        let header = Stickiness.header("x-user-id")
        #expect(header.point(in: Self.request([("X-User-Id", "user-7")])) == StickyPoint.of("user-7".utf8))
        #expect(header.point(in: Self.request([("x-other", "user-7")])) == nil)
        let cookie = Stickiness.cookie("session")
        #expect(cookie.point(in: Self.request([("cookie", "theme=dark; session=abc ; x=1")])) == StickyPoint.of("abc".utf8))
        #expect(cookie.point(in: Self.request([("cookie", "session=abc")])) == StickyPoint.of("abc".utf8))
        #expect(cookie.point(in: Self.request([("cookie", "sessionid=abc; xsession=abc")])) == nil, "only the exact name")
        #expect(cookie.point(in: Self.request([("cookie", "Session=abc")])) == nil, "cookie names are case-sensitive")
        #expect(cookie.point(in: Self.request([])) == nil)
    }

    @Test("a cookie's value is found in place: its byte range in the header")
    func cookieValueRange() {
        let header = Array("a=1;b = two ;  c=".utf8)
        #expect(StickyPoint.cookieValue(named: Array("b".utf8), in: header).map { String(decoding: header[$0], as: UTF8.self) } == "two")
        #expect(StickyPoint.cookieValue(named: Array("c".utf8), in: header).map { header[$0].count } == 0)
        #expect(StickyPoint.cookieValue(named: Array("d".utf8), in: header) == nil)
        #expect(StickyPoint.cookieValue(named: Array("a".utf8), in: Array("novalue; a=x".utf8)) != nil, "a pair without = is skipped")
    }

    @Test("the rollout's every split carries the Canary's stickiness, so each route it owns picks by key")
    func rolloutSplitCarriesStickiness() throws {
        var spec = try Fixture.spec()
        spec.analysis.stickiness = .cookie("session")
        var rollout = try Rollout(spec: spec)
        guard case .accepted(let actions) = rollout.start(now: t(0)) else {
            Issue.record("the start was refused")
            return
        }
        let splits = actions.compactMap { action -> TrafficSplit? in
            if case .setWeights(let split) = action { return split } else { return nil }
        }
        #expect(splits.map(\.canaryWeight) == [0, 10])
        #expect(splits.allSatisfy { $0.stickiness == .cookie("session") })
        var vs = VirtualService(name: Fixture.target, hosts: ["web"], gateways: [], http: [
            HTTPRoute(destinations: [WeightedDestination(destination: Fixture.stable, weight: 100)]),
        ])
        let split = try #require(splits.last)
        #expect(split.owns(vs.http[0].destinations.map(\.destination)))
        vs.http[0].destinations = split.destinations(replacing: vs.http[0].destinations)
        #expect(vs.http[0].destinations.last?.destination == Fixture.canary, "the canary is last: it takes the lowest points")
    }

    @Test("a state file written before stickiness existed decodes with none; a sticky spec survives the round trip")
    func stateFileCompatibility() throws {
        var analysis = try Fixture.spec().analysis
        let old = try JSONEncoder().encode(analysis)
        #expect(try JSONDecoder().decode(AnalysisSpec.self, from: old).stickiness == nil)
        analysis.stickiness = .header("x-user-id")
        let sticky = try JSONEncoder().encode(analysis)
        #expect(try JSONDecoder().decode(AnalysisSpec.self, from: sticky) == analysis)
    }

    @Test("an empty stickiness name is a problem of the spec, at its field")
    func emptyNameIsAProblem() throws {
        var spec = try Fixture.spec()
        spec.analysis.stickiness = .header("")
        #expect(spec.problems == [.init(field: "analysis.stickiness.header", message: "is empty, expected a header name")])
    }
}
