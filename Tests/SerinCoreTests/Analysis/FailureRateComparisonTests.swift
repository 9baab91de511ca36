import SerinCore
import Testing

/// Canary against stable on failure rates: what the interval on their difference decides.
@Suite("Failure rate comparison")
struct FailureRateComparisonTests {
    static func compare(canary: (Int, Int), stable: (Int, Int), tolerance: Double = 0.005) -> FailureRateComparison {
        FailureRateComparison(
            canary: (failures: canary.0, requests: canary.1), stable: (failures: stable.0, requests: stable.1),
            tolerance: tolerance, confidence: 0.99)
    }

    @Test("ten points more failures than the stable, over a thousand requests each, is worse; five points is not yet known")
    func clearRegressionIsWorse() {
        let result = Self.compare(canary: (110, 1_000), stable: (10, 1_000))
        #expect(result.decision == .worse)
        #expect(result.difference.contains(0.1), "\(result.difference)")
        #expect(result.difference.lowerBound > 0.005)
        // The price of a union of two per-version intervals, each valid at every look: conservative, not fooled.
        #expect(Self.compare(canary: (60, 1_000), stable: (10, 1_000)).decision == .undecided)
    }

    @Test("an outage that fails both versions alike is not the canary's fault")
    func sharedOutageIsNotWorse() {
        let result = Self.compare(canary: (300, 1_000), stable: (2_700, 9_000))
        #expect(result.decision != .worse, "\(result)")
        #expect(result.canaryRate == 0.3 && result.stableRate == 0.3)
    }

    @Test("a canary as good as the stable is shown no worse once there is traffic enough, and not before")
    func equalRatesAreNoWorseWithTraffic() {
        #expect(Self.compare(canary: (0, 50), stable: (0, 450)).decision == .undecided)
        #expect(Self.compare(canary: (0, 2_000), stable: (0, 18_000)).decision == .noWorse)
        #expect(Self.compare(canary: (50, 25_000), stable: (450, 225_000)).decision == .noWorse)
    }

    @Test("one failure in ten requests decides nothing either way")
    func littleDataIsUndecided() {
        let result = Self.compare(canary: (1, 10), stable: (0, 100))
        #expect(result.decision == .undecided)
        #expect(result.difference.lowerBound < 0 && result.difference.upperBound > 0.1, "\(result.difference)")
    }

    @Test("before any canary request, nothing is known")
    func noRequestsIsUndecided() {
        let result = Self.compare(canary: (0, 0), stable: (5, 1_000))
        #expect(result.decision == .undecided)
        #expect(result.canaryRate == 0)
    }
}
