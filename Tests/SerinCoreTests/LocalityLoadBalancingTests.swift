import SerinCore
import Testing

/// Locality load balancing as Istio sets Envoy's priorities: endpoints ranked by how far they run from the gateway,
/// and requests spread over the ranks by how many of each rank's endpoints are healthy.
@Suite("Locality load balancing")
struct LocalityLoadBalancingTests {
    @Test("a locality reads as Istio writes it, region/zone/subzone, and refuses what is not one", arguments: [
        ("us-east1", "us-east1"), ("us-east1/b", "us-east1/b"), ("us-east1/b/rack4", "us-east1/b/rack4"),
        ("", nil), ("/b", nil), ("us-east1//rack4", nil), ("a/b/c/d", nil),
    ] as [(String, String?)])
    func parsing(text: String, expected: String?) {
        #expect(Locality(text)?.description == expected)
    }

    @Test("distance: 0 the same subzone, 1 the same zone, 2 the same region, 3 another region, 4 one a failover entry does not name")
    func distance() {
        let gateway = Locality(region: "us-east1", zone: "a", subzone: "r1")
        #expect(gateway.distance(to: Locality("us-east1/a/r1"), failover: []) == 0)
        #expect(gateway.distance(to: Locality("us-east1/a/r2"), failover: []) == 1)
        #expect(gateway.distance(to: Locality("us-east1/b"), failover: []) == 2)
        #expect(gateway.distance(to: Locality("eu-west1/a"), failover: []) == 3)
        #expect(gateway.distance(to: nil, failover: []) == 3, "an endpoint with no locality is in no region of the gateway's")
        let toEurope = [LocalityLoadBalancing.Failover(from: "us-east1", to: "eu-west1")]
        #expect(gateway.distance(to: Locality("eu-west1/a"), failover: toEurope) == 3)
        #expect(gateway.distance(to: Locality("ap-south1/a"), failover: toEurope) == 4)
        #expect(gateway.distance(to: Locality("ap-south1/a"), failover: [.init(from: "eu-west1", to: "us-east1")]) == 3, "another region's entry")
    }

    /// Endpoints at `localities`, without labels of their own.
    static func at(_ localities: [String?]) -> [(locality: Locality?, labels: [String: String])] {
        localities.map { ($0.flatMap(Locality.init), [:]) }
    }

    @Test("levels are numbered without gaps; endpoints all at one distance make one level (none)")
    func levels() {
        let gateway = Locality(region: "us-east1", zone: "a")
        let setting = LocalityLoadBalancing()
        #expect(PriorityLevels.levels(of: Self.at(["us-east1/a", "eu-west1", "us-east1/a"]), from: gateway, setting: setting) == [0, 1, 0])
        #expect(PriorityLevels.levels(of: Self.at(["eu-west1", "us-east1/b"]), from: gateway, setting: setting) == [1, 0])
        #expect(PriorityLevels.levels(of: Self.at(["eu-west1", "ap-south1"]), from: gateway, setting: setting) == [])
    }

    @Test("failoverPriority ranks by the labels shared with the gateway, in order, its locality's topology labels included; with failover entries, by distance within each rank")
    func failoverPriority() {
        let gateway = Locality(region: "us-east1", zone: "a")
        let endpoints: [(locality: Locality?, labels: [String: String])] = [
            (Locality("us-east1/b"), ["track": "stable"]),   // region shared, zone not
            (Locality("us-east1/a"), ["track": "canary"]),   // both shared
            (Locality("eu-west1/a"), ["track": "stable"]),   // neither
            (Locality("ap-south1/a"), ["track": "stable"]),  // neither
        ]
        let byTopology = LocalityLoadBalancing(failoverPriority: ["topology.kubernetes.io/region", "topology.kubernetes.io/zone"])
        #expect(PriorityLevels.levels(of: endpoints, from: gateway, setting: byTopology) == [1, 0, 2, 2])
        // key=value names the value: here the track label, not the gateway's.
        let stableFirst = LocalityLoadBalancing(failoverPriority: ["track=stable"])
        #expect(PriorityLevels.levels(of: endpoints, from: gateway, setting: stableFirst) == [0, 1, 0, 0])
        let withFailover = LocalityLoadBalancing(failover: [.init(from: "us-east1", to: "eu-west1")], failoverPriority: ["track=stable"])
        // Within track=stable: us-east1/b (same region), then eu-west1 (failover's to), then ap-south1; canary after all of them.
        #expect(PriorityLevels.levels(of: endpoints, from: gateway, setting: withFailover) == [0, 3, 1, 2])
    }

    @Test("loads follow Envoy: a level keeps all while 5 in 7 of its endpoints are healthy, gives the rest of its share to the next, scaled up when all are short", arguments: [
        ([3, 2], [3, 2], [100, 0]),
        ([2, 2], [3, 2], [93, 7]),     // 2 of 3 healthy: 140 × 2/3 = 93
        ([1, 2], [2, 2], [70, 30]),
        ([0, 2], [2, 2], [0, 100]),
        ([1, 1], [4, 4], [50, 50]),    // each 35: scaled up from 70 in all
        ([0, 0, 1], [1, 1, 1], [0, 0, 100]),
    ])
    func loads(healthy: [Int], total: [Int], expected: [Int]) {
        #expect(PriorityLevels.loads(healthy: healthy, total: total) == expected)
    }

    @Test("with no endpoint healthy there is no load to spread")
    func noneHealthy() {
        #expect(PriorityLevels.loads(healthy: [0, 0], total: [2, 1]) == nil)
    }

    @Test("the outlier detector spreads turns over the levels by their loads, round robin within each, and keeps a second choice on the first's level")
    func detectorSpreadsByLevel() {
        var detector = OutlierDetector(
            policy: OutlierDetection(consecutive5xxErrors: 1, maxEjectionPercent: 100), endpointCount: 5, panicThreshold: 0
        )
        detector.priorities = [0, 0, 0, 1, 1]
        var counts = Array(repeating: 0, count: 5)
        for turn in 0..<1000 { counts[detector.pick(forTurn: turn, now: .zero) ?? 0] += 1 }
        #expect(counts == [334, 333, 333, 0, 0], "every turn on the nearest level while all its endpoints are in")
        detector.record(endpoint: 0, outcome: .response(status: 500), now: .zero)
        counts = Array(repeating: 0, count: 5)
        for turn in 0..<3000 { counts[detector.pick(forTurn: turn, now: .seconds(1)) ?? 0] += 1 }
        // 2 of 3 in: 93% on the nearest level, 7% on the next.
        #expect(counts[0] == 0)
        #expect((2650...2930).contains(counts[1] + counts[2]) && abs(counts[1] - counts[2]) <= 100, "\(counts)")
        #expect((100...320).contains(counts[3] + counts[4]), "\(counts)")
        #expect(detector.pick(forTurn: 7, now: .seconds(1), level: 1).map { [3, 4].contains($0) } == true)
        for endpoint in [1, 2] { detector.record(endpoint: endpoint, outcome: .response(status: 500), now: .seconds(1)) }
        let failedOver = (0..<20).compactMap { detector.pick(forTurn: $0, now: .seconds(2)) }
        #expect(Set(failedOver) == [3, 4] && failedOver.count == 20, "\(failedOver)")
    }
    @Test("retryRemoteLocalities leaves the levels of the attempts made, counted every second attempt as Istio sets Envoy's previous_priorities; with nothing left elsewhere, they count again")
    func leavingLevels() {
        let remote = HTTPRetry(attempts: 4, retryRemoteLocalities: true)
        #expect((1...5).map { remote.levelsLeftBehind(attempts: $0) } == [0, 2, 2, 4, 4])
        #expect(HTTPRetry(attempts: 4).levelsLeftBehind(attempts: 4) == 0)
        var detector = OutlierDetector(policy: OutlierDetection(consecutive5xxErrors: 1, maxEjectionPercent: 100), endpointCount: 3, panicThreshold: 0)
        detector.priorities = [0, 0, 1]
        #expect((0..<100).allSatisfy { detector.level(forDraw: $0, now: .zero) == 0 })
        #expect((0..<100).allSatisfy { detector.level(forDraw: $0, now: .zero, leaving: [0]) == 1 })
        detector.record(endpoint: 2, outcome: .response(status: 500), now: .zero)
        #expect(detector.level(forDraw: 50, now: .seconds(1), leaving: [0]) == 0, "level 1 has none in: level 0 counts again")
    }
    @Test("distribute weighs the localities as Istio does: the first entry from the gateway's locality, each pattern claiming the localities no earlier one did, its weight shared by theirs; an endpoint no pattern claims takes nothing")
    func distribute() {
        let endpoints: [(locality: Locality?, weight: Int)] = [
            (Locality("us-east1/a"), 1), (Locality("us-east1/a"), 3), (Locality("us-east1/b"), 1), (Locality("eu-west1/a"), 1), (nil, 1),
        ]
        let setting = LocalityLoadBalancing(distribute: [
            .init(from: "eu-west1/*", to: [.init(locality: "eu-west1/*", weight: 100)]),
            .init(from: "us-east1/*", to: [.init(locality: "us-east1/a", weight: 80), .init(locality: "*", weight: 20)]),
        ])
        let weights = setting.distributedWeights(of: endpoints, from: Locality(region: "us-east1", zone: "a"))
        // us-east1/a: 80, shared 1:3 by its endpoints; us-east1/b and eu-west1/a (and no locality) split the 20 by their weights.
        #expect(weights == [2000, 6000, 700, 700, 700], "\(String(describing: weights))")
        #expect(setting.distributedWeights(of: endpoints, from: Locality(region: "ap-south1")) == nil, "no entry from there")
        let only = LocalityLoadBalancing(distribute: [.init(from: "*", to: [.init(locality: "us-east1/b", weight: 100)])])
        #expect(only.distributedWeights(of: endpoints, from: Locality(region: "")) == [nil, nil, 10000, nil, nil])
        #expect(LocalityLoadBalancing.matches("us-east1", Locality("us-east1/b/r1")!) && !LocalityLoadBalancing.matches("us-east1/a", Locality("us-east1/b")!))
    }
    @Test("warmup scales a new endpoint's weight as Envoy's slow start: its age over the window to the power 1/aggression, at least minimumPercent, whole after the window")
    func warmupFactor() {
        let linear = LoadBalancerSettings.Warmup(duration: .seconds(100))
        #expect(linear.factor(age: .zero) == 0.1, "the 10% floor")
        #expect(linear.factor(age: .seconds(50)) == 0.5)
        #expect(linear.factor(age: .seconds(100)) == 1 && linear.factor(age: .seconds(1000)) == 1)
        let steep = LoadBalancerSettings.Warmup(duration: .seconds(100), minimumPercent: 0, aggression: 2)
        #expect(steep.factor(age: .seconds(25)) == 0.5)
        #expect(steep.factor(age: .zero) == 0.1, "Envoy counts at least a second: (1/100)^(1/2)")
    }

    @Test("while warming under LEAST_REQUEST an endpoint weighs its warmup-scaled weight over its requests in flight plus one, as Envoy's least request with slow start; without a load, the scaled weight alone")
    func warmupWeightByLoad() {
        let warmup = LoadBalancerSettings.Warmup(duration: .seconds(100))
        #expect(warmup.weight(2, age: .seconds(50)) == 1, "half of weight 2, halfway through the window")
        #expect(warmup.weight(2, age: .seconds(50), inFlight: 0) == 1, "nothing in flight divides by one")
        #expect(warmup.weight(1, age: .seconds(500), inFlight: 9) == 0.1, "warm, with 9 in flight: a tenth")
        // A new endpoint at its 10% floor draws level with a warm one that holds nine requests.
        #expect(warmup.weight(1, age: .zero, inFlight: 0) == warmup.weight(1, age: .seconds(500), inFlight: 9))
    }

    @Test("a weighted draw picks in proportion to the weights, never one of weight 0, and nothing when all are 0")
    func weightedDraw() {
        var counts = [0, 0, 0]
        var random = SplitMix64(seed: 7)
        for _ in 0..<4000 { counts[WeightedDraw.index(in: [1, 0, 3], draw: random.next()) ?? 1] += 1 }
        #expect(counts[1] == 0 && (850...1150).contains(counts[0]) && (2850...3150).contains(counts[2]), "\(counts)")
        #expect(WeightedDraw.index(in: [0, 0], draw: 42) == nil)
    }
}
