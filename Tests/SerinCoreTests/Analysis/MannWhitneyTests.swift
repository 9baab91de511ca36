import SerinCore
import SerinTesting
import Testing

/// Kayenta's fixed-window comparison on histograms: U and the one-sided p-value against scipy's on the requests
/// written out one by one, and what it refuses.
@Suite("Mann-Whitney U on latency histograms")
struct MannWhitneyTests {
    static let bounds: [Double] = [1, 2, 5, 10, 20, 50, 100]

    struct Case: Codable, CustomStringConvertible {
        var name: String
        var canary: [Int]
        var stable: [Int]
        var description: String { name }
    }

    struct Result: Codable {
        var u: Double
        var p: Double
    }

    static let cases = [
        Case(name: "equal distributions", canary: [3, 10, 25, 40, 15, 5, 2, 0], stable: [3, 10, 25, 40, 15, 5, 2, 0]),
        Case(name: "same shape, four times the stable", canary: [3, 10, 25, 40, 15, 5, 2, 0], stable: [12, 40, 100, 160, 60, 20, 8, 0]),
        Case(name: "canary one bucket slower", canary: [0, 3, 10, 25, 40, 15, 5, 2], stable: [3, 10, 25, 40, 15, 5, 2, 0]),
        Case(name: "canary one bucket faster", canary: [3, 10, 25, 40, 15, 5, 2, 0], stable: [0, 3, 10, 25, 40, 15, 5, 2]),
        Case(name: "nearly all tied in one bucket", canary: [0, 0, 0, 950, 30, 10, 5, 5], stable: [0, 0, 0, 970, 20, 5, 3, 2]),
        Case(name: "one canary request against two", canary: [0, 1, 0, 0, 0, 0, 0, 0], stable: [0, 0, 2, 0, 0, 0, 0, 0]),
        Case(name: "one request each, tied", canary: [0, 0, 1, 0, 0, 0, 0, 0], stable: [0, 0, 1, 0, 0, 0, 0, 0]),
        Case(name: "everything in the +Inf bucket", canary: [0, 0, 0, 0, 0, 0, 0, 4], stable: [0, 0, 0, 0, 0, 0, 0, 9]),
        Case(
            name: "10^5 a bucket, canary slightly slower", canary: [20_000, 80_000, 100_000, 60_000, 30_000, 9_000, 900, 100],
            stable: [20_400, 80_300, 100_000, 59_800, 29_700, 8_900, 850, 90]),
        Case(
            name: "10^5 a bucket, canary clearly slower (p near 1e-103, deep in erfc's tail)",
            canary: [18_000, 76_000, 100_000, 64_000, 32_000, 10_000, 1_200, 150],
            stable: [20_000, 80_000, 100_000, 60_000, 30_000, 9_000, 900, 100]),
    ]

    /// The same test on its own: every request in bucket i valued at i, scipy's asymptotic test with continuity.
    static let reference = """
        import json, sys
        import numpy as np
        from scipy.stats import mannwhitneyu
        out = []
        for case in json.load(open(sys.argv[1])):
            c = np.repeat(np.arange(len(case["canary"])), case["canary"])
            s = np.repeat(np.arange(len(case["stable"])), case["stable"])
            r = mannwhitneyu(c, s, alternative="greater", method="asymptotic", use_continuity=True)
            out.append({"u": float(r.statistic), "p": float(r.pvalue)})
        print(json.dumps(out))
        """

    static func histogram(_ counts: [Int], bounds: [Double] = bounds) throws -> LatencyHistogram {
        try #require(LatencyHistogram(bounds: bounds, counts: counts))
    }

    static func close(_ value: Double, _ reference: Double) -> Bool {
        abs(value - reference) <= 1e-9 * max(abs(value), abs(reference))
    }

    @Test("U and the one-sided p-value match scipy's mannwhitneyu to 1e-9 relative", .enabled(
            if: SciPy.shouldRun, "python3 with scipy is not installed here (pip install scipy); CI runs this"))
    func matchesScipy() async throws {
        let expected = try await SciPy.evaluate(Self.reference, input: Self.cases, as: [Result].self)
        try #require(expected.count == Self.cases.count)
        for (input, reference) in zip(Self.cases, expected) {
            let test = try #require(MannWhitney(canary: Self.histogram(input.canary), stable: Self.histogram(input.stable)))
            #expect(Self.close(test.u, reference.u), "\(input): U \(test.u) vs \(reference.u)")
            #expect(Self.close(test.pValue, reference.p), "\(input): p \(test.pValue) vs \(reference.p)")
        }
    }

    @Test("no test when either side has no requests")
    func nilWhenASideIsEmpty() throws {
        let empty = try Self.histogram([0, 0, 0, 0, 0, 0, 0, 0])
        let some = try Self.histogram([1, 2, 3, 0, 0, 0, 0, 0])
        #expect(MannWhitney(canary: empty, stable: some) == nil)
        #expect(MannWhitney(canary: some, stable: empty) == nil)
        #expect(MannWhitney(canary: empty, stable: empty) == nil)
    }

    @Test("no test between histograms over different bounds")
    func nilWhenBoundsDiffer() throws {
        let canary = try Self.histogram([1, 2, 3, 0, 0, 0, 0, 0])
        let stable = try Self.histogram([1, 2, 3, 0, 0, 0, 0, 0], bounds: [1, 2, 5, 10, 25, 50, 100])
        #expect(MannWhitney(canary: canary, stable: stable) == nil)
        #expect(try MannWhitney(canary: canary, stable: Self.histogram([1, 2], bounds: [1])) == nil)
    }

    @Test("identical histograms: a canary request is as likely slower as faster, and nothing says it is slower")
    func identicalHistogramsHaveEffectSizeOneHalf() throws {
        let histogram = try Self.histogram([3, 10, 25, 40, 15, 5, 2, 1])
        let test = try #require(MannWhitney(canary: histogram, stable: histogram))
        #expect(test.effectSize == 0.5)
        #expect(test.u == Double(histogram.total * histogram.total) / 2)
        #expect(test.z < 0, "the continuity correction leans towards no difference: \(test.z)")
        #expect(test.pValue > 0.5)
    }

    @Test("a canary slower in every request: effect size 1 and a tiny p-value; faster in every request: 0 and p near 1")
    func separatedHistograms() throws {
        let fast = try Self.histogram([10, 20, 0, 0, 0, 0, 0, 0])
        let slow = try Self.histogram([0, 0, 0, 15, 15, 0, 0, 0])
        let slower = try #require(MannWhitney(canary: slow, stable: fast))
        #expect(slower.effectSize == 1)
        #expect(slower.u == 900)
        #expect(slower.pValue < 1e-9)
        let faster = try #require(MannWhitney(canary: fast, stable: slow))
        #expect(faster.effectSize == 0)
        #expect(faster.pValue > 1 - 1e-9)
    }

    @Test("every request in one bucket: no spread to judge, z is −∞ and p is 1")
    func allTiedIsNoEvidence() throws {
        let canary = try Self.histogram([0, 0, 7, 0, 0, 0, 0, 0])
        let stable = try Self.histogram([0, 0, 12, 0, 0, 0, 0, 0])
        let test = try #require(MannWhitney(canary: canary, stable: stable))
        #expect(test.z == -.infinity)
        #expect(test.pValue == 1)
        #expect(test.effectSize == 0.5)
    }

    @Test("z by hand: (U − n_c·n_s/2 − ½) over the tie-corrected standard deviation, and p ½ at z 0")
    func zByHand() throws {
        // One request each, the canary's slower: U 1, mean ½, variance 1·1/12·3 = ¼, so z = (1 − ½ − ½)/½ = 0.
        let one = try #require(MannWhitney(canary: Self.histogram([0, 1], bounds: [10]), stable: Self.histogram([1, 0], bounds: [10])))
        #expect(one.u == 1)
        #expect(one.z == 0)
        #expect(one.pValue == 0.5)
        // Two each, two tied pairs of buckets: U 4, mean 2, variance 4/12·(5 − (6 + 6)/12) = 4/3, z = 1.5/√(4/3) = ¾√3.
        let two = try #require(MannWhitney(canary: Self.histogram([0, 2], bounds: [10]), stable: Self.histogram([2, 0], bounds: [10])))
        #expect(two.u == 4)
        #expect(abs(two.z - 0.75 * 3.0.squareRoot()) < 1e-12, "\(two.z)")
    }
}
