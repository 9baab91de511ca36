import SerinCore
import Testing

@Suite("Consistent hash")
struct ConsistentHashTests {
    private static let keys = (0..<3000).map { ConsistentHash.hash("user-\($0)".utf8) }

    @Test("a key's endpoint is the same on every call, and the keys spread evenly over the endpoints")
    func stableAndEven() {
        var counts = [Int](repeating: 0, count: 5)
        for key in Self.keys {
            let bucket = ConsistentHash.bucket(key, buckets: 5)
            #expect(bucket == ConsistentHash.bucket(key, buckets: 5))
            counts[bucket] += 1
        }
        #expect(counts.allSatisfy { (500...700).contains($0) }, "\(counts)")
    }

    @Test("a key's hash does not change between runs: a restart keeps each key on its endpoint")
    func stableAcrossRuns() {
        // FNV-1a and SplitMix64's finaliser, pinned: a seeded hash (Swift's Hasher) would differ on every run.
        #expect(ConsistentHash.hash("".utf8) == SplitMix64.mix(0xCBF2_9CE4_8422_2325))
        #expect(ConsistentHash.hash("a".utf8) == SplitMix64.mix(0xAF63_DC4C_8601_EC8C))
    }

    @Test("an endpoint added moves only the keys that go to it, about one in n+1")
    func addingAnEndpointMovesFewKeys() {
        var moved = 0
        for key in Self.keys {
            let before = ConsistentHash.bucket(key, buckets: 4)
            let after = ConsistentHash.bucket(key, buckets: 5)
            if before != after {
                moved += 1
                #expect(after == 4, "a key moved between old endpoints")
            }
        }
        #expect((450...750).contains(moved), "\(moved) of \(Self.keys.count) moved")
    }

    @Test("a key whose endpoint is out goes to one other endpoint, always the same, and back when it returns; none when all are out")
    func passesOverEndpointsThatAreOut() {
        for key in Self.keys.prefix(200) {
            let own = ConsistentHash.endpoint(for: key, count: 4) { _ in false }
            #expect(own == ConsistentHash.bucket(key, buckets: 4))
            let other = ConsistentHash.endpoint(for: key, count: 4) { $0 == own }
            #expect(other != nil && other != own)
            #expect(ConsistentHash.endpoint(for: key, count: 4) { $0 == own } == other)
        }
        #expect(ConsistentHash.endpoint(for: Self.keys[0], count: 4) { _ in true } == nil)
        #expect(ConsistentHash.endpoint(for: Self.keys[0], count: 0) { _ in false } == nil)
    }

    @Test("outlier detection: an ejected endpoint's keys go elsewhere, and in panic every key keeps its own endpoint")
    func withOutlierDetection() throws {
        var detector = OutlierDetector(policy: OutlierDetection(consecutive5xxErrors: 1, maxEjectionPercent: 100), endpointCount: 2, panicThreshold: 0)
        let key = try #require(Self.keys.first { ConsistentHash.bucket($0, buckets: 2) == 0 })
        let now = Duration.seconds(10)
        #expect(detector.pick(forHash: key, now: now) == 0)
        _ = detector.record(endpoint: 0, outcome: .response(status: 500), now: now)
        #expect(detector.isEjected(0, now: now))
        #expect(detector.pick(forHash: key, now: now) == 1)
        var panicking = OutlierDetector(policy: OutlierDetection(consecutive5xxErrors: 1, maxEjectionPercent: 100), endpointCount: 2, panicThreshold: 100)
        _ = panicking.record(endpoint: 0, outcome: .response(status: 500), now: now)
        #expect(panicking.pick(forHash: key, now: now) == 0)
    }

    @Test("with endpoint weights each endpoint takes its weight's share of the keys, a key keeps its endpoint, and one out passes its keys to one other")
    func weighted() {
        let weights = [3, 1, 2]
        var counts = [Int](repeating: 0, count: 3)
        for key in Self.keys {
            let endpoint = ConsistentHash.endpoint(for: key, count: 3, weights: weights) { _ in false }
            #expect(endpoint == ConsistentHash.endpoint(for: key, count: 3, weights: weights) { _ in false })
            if let endpoint { counts[endpoint] += 1 }
        }
        // 3000 keys at 3:1:2 are 1500, 500 and 1000.
        #expect((1380...1620).contains(counts[0]) && (420...580).contains(counts[1]) && (900...1100).contains(counts[2]), "\(counts)")
        for key in Self.keys.prefix(200) {
            let own = ConsistentHash.endpoint(for: key, count: 3, weights: weights) { _ in false }
            let other = ConsistentHash.endpoint(for: key, count: 3, weights: weights) { $0 == own }
            #expect(other != nil && other != own)
            #expect(ConsistentHash.endpoint(for: key, count: 3, weights: weights) { $0 == own } == other)
        }
        #expect(ConsistentHash.endpoint(for: Self.keys[0], count: 3, weights: weights) { _ in true } == nil)
    }

    @Test("a weight raised moves only keys to that endpoint, about its gain in share")
    func raisingAWeightMovesFewKeys() {
        var moved = 0
        for key in Self.keys {
            let before = ConsistentHash.endpoint(for: key, count: 3, weights: [1, 1, 2]) { _ in false }
            let after = ConsistentHash.endpoint(for: key, count: 3, weights: [1, 2, 2]) { _ in false }
            if before != after {
                moved += 1
                #expect(after == 1, "a key moved between endpoints whose weights stayed")
            }
        }
        // Endpoint 1's share goes from 1/4 to 2/5: 0.15 of the keys, 450 of 3000.
        #expect((330...570).contains(moved), "\(moved) of \(Self.keys.count) moved")
    }
}
