import SerinCore
import Testing

@Suite("Weighted choice")
struct WeightedPickTests {
    static func route(_ weights: [Int]) -> RouteTable.Route {
        let config = MeshConfig(
            gateways: [Gateway(name: ResourceName(name: "g"), servers: [.init(port: 80, protocol: "HTTP", hosts: ["*"])])],
            virtualServices: [VirtualService(
                name: ResourceName(name: "vs"), hosts: ["*"], gateways: [ResourceName(name: "g")],
                http: [HTTPRoute(destinations: weights.enumerated().map {
                    WeightedDestination(destination: Destination(host: "s\($0.offset)"), weight: $0.element)
                })]
            )]
        )
        return RouteTable(compiling: config).listeners[80]!.virtualHosts[0].routes[0]
    }

    @Test("each roll maps to the destination owning that slice of the weights")
    func rollBoundaries() {
        let route = Self.route([90, 10])
        #expect(route.totalWeight == 100)
        #expect(route.target(forRoll: 0)?.destination.host == "s0")
        #expect(route.target(forRoll: 89)?.destination.host == "s0")
        #expect(route.target(forRoll: 90)?.destination.host == "s1")
        #expect(route.target(forRoll: 99)?.destination.host == "s1")
    }

    @Test("a destination with weight 0 is never chosen")
    func zeroWeight() {
        let route = Self.route([0, 100])
        #expect((0..<100).allSatisfy { route.target(forRoll: $0)?.destination.host == "s1" })
    }

    @Test("a lone destination takes all traffic whatever its weight")
    func loneDestination() {
        let route = Self.route([0])
        #expect(route.totalWeight == 100)
        #expect(route.target(forRoll: 42)?.destination.host == "s0")
    }

    @Test("10,000 picks at 90/10 land within three standard deviations", arguments: [1, 2, 3, 42])
    func binomialSplit(seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        let route = Self.route([90, 10])
        let n = 10_000
        var canary = 0
        for _ in 0..<n where route.target(forRoll: Int.random(in: 0..<route.totalWeight, using: &generator))?.destination.host == "s1" {
            canary += 1
        }
        let expected = Double(n) * 0.1
        let sigma = (Double(n) * 0.1 * 0.9).squareRoot()
        #expect(abs(Double(canary) - expected) <= 3 * sigma, "canary got \(canary) of \(n)")
    }
}

/// Deterministic xorshift so the statistical test is reproducible.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}
