import SerinCore
import SerinTesting
import Testing

/// The e-process on where failures land: its value against scipy's, its promise under continuous looking while the
/// canary is as good as the stable (weights moving, outages shared), and how fast it sees a real regression.
@Suite("Failure ratio evidence")
struct FailureRatioEvidenceTests {
    struct Window: Codable {
        var canaryFailures: Int
        var canaryRequests: Int
        var stableFailures: Int
        var stableRequests: Int
    }

    struct Sequence: Codable {
        var toleratedRatio: Double
        var windows: [Window]
    }

    static let sequences = [
        Sequence(toleratedRatio: 1, windows: [Window(canaryFailures: 3, canaryRequests: 100, stableFailures: 4, stableRequests: 900)]),
        Sequence(toleratedRatio: 1.5, windows: [
            Window(canaryFailures: 5, canaryRequests: 50, stableFailures: 9, stableRequests: 450),
            Window(canaryFailures: 0, canaryRequests: 0, stableFailures: 3, stableRequests: 500),
            Window(canaryFailures: 12, canaryRequests: 250, stableFailures: 10, stableRequests: 250),
        ]),
        Sequence(toleratedRatio: 1, windows: [
            Window(canaryFailures: 0, canaryRequests: 100, stableFailures: 0, stableRequests: 900),
            Window(canaryFailures: 1, canaryRequests: 100, stableFailures: 11, stableRequests: 900),
        ]),
        Sequence(toleratedRatio: 2, windows: [Window(canaryFailures: 30, canaryRequests: 100, stableFailures: 0, stableRequests: 900)]),
    ]

    /// The same evidence from scipy's binomial log-pmf and logsumexp, window by window.
    static let reference = """
        import json, sys
        import numpy as np
        from scipy.stats import binom
        from scipy.special import logsumexp
        out = []
        for seq in json.load(open(sys.argv[1])):
            r0 = seq["toleratedRatio"]
            factors = np.exp(np.arange(1, 41) / 40 * np.log(100))
            total = np.zeros(40)
            for w in seq["windows"]:
                f = w["canaryFailures"] + w["stableFailures"]
                nc, ns = w["canaryRequests"], w["stableRequests"]
                if f == 0 or nc == 0 or ns == 0:
                    continue
                share = lambda r: nc * r / (nc * r + ns)
                total += binom.logpmf(w["canaryFailures"], f, share(r0 * factors)) - binom.logpmf(w["canaryFailures"], f, share(r0))
            out.append(float(logsumexp(total) - np.log(40)))
        print(json.dumps(out))
        """

    static func evidence(_ sequence: Sequence) -> FailureRatioEvidence {
        var evidence = FailureRatioEvidence(toleratedRatio: sequence.toleratedRatio)
        for window in sequence.windows {
            evidence.add(
                canary: (window.canaryFailures, window.canaryRequests), stable: (window.stableFailures, window.stableRequests))
        }
        return evidence
    }

    @Test("the evidence matches scipy's to 1e-9", .enabled(if: SciPy.shouldRun, "python3 with scipy is not installed here (pip install scipy); CI runs this"))
    func matchesScipy() async throws {
        let expected = try await SciPy.evaluate(Self.reference, input: Self.sequences, as: [Double].self)
        for (sequence, reference) in zip(Self.sequences, expected) {
            let value = Self.evidence(sequence).logEvidence
            #expect(abs(value - reference) < 1e-9, "\(sequence.windows): \(value) vs scipy \(reference)")
        }
    }

    @Test("a canary failing a third of its requests while the stable fails none is worse; a shared outage is not")
    func regressionAgainstOutage() {
        var regression = FailureRatioEvidence(toleratedRatio: 1.5)
        regression.add(canary: (30, 100), stable: (0, 900))
        #expect(regression.showsWorse(confidence: 0.99))
        var outage = FailureRatioEvidence(toleratedRatio: 1.5)
        outage.add(canary: (30, 100), stable: (270, 900))
        #expect(!outage.showsWorse(confidence: 0.99))
        #expect(outage.logEvidence < 0, "failures landing where the traffic is count against a regression")
    }

    /// Simulates windows of 5 s at `rps` with the canary's weight going 10, 20, 30, 40, 50 every 4 windows, a third
    /// of the way through an outage that fails 30% of both versions' requests; returns the window of the first
    /// verdict of worse, if any.
    static func firstWorse(
        rps: Int, stableRate: Double, canaryRate: Double, windows: Int, generator: inout SeededRandom
    ) -> Int? {
        var evidence = FailureRatioEvidence(toleratedRatio: 1.5)
        for window in 0..<windows {
            let weight = min(10 * (window / 4 + 1), 50)
            let canaryRequests = rps * 5 * weight / 100
            let outage = window == windows / 3 ? 0.3 : 0
            let canaryFailures = failed(canaryRequests, rate: max(canaryRate, outage), &generator)
            let stableFailures = failed(rps * 5 - canaryRequests, rate: max(stableRate, outage), &generator)
            evidence.add(canary: (canaryFailures, canaryRequests), stable: (stableFailures, rps * 5 - canaryRequests))
            if evidence.showsWorse(confidence: 0.99) { return window }
        }
        return nil
    }

    static func failed(_ requests: Int, rate: Double, _ generator: inout SeededRandom) -> Int {
        (0..<requests).count { _ in Double(generator.next() >> 11) / Double(1 << 53) < rate }
    }

    @Test("a canary as good as the stable is called worse in at most 1% of releases, looked at every window")
    func rarelyFooledWhenEqual() {
        var generator = SeededRandom(seed: 7)
        let releases = 300
        let fooled = (0..<releases).count { _ in
            Self.firstWorse(rps: 100, stableRate: 0.02, canaryRate: 0.02, windows: 24, generator: &generator) != nil
        }
        #expect(fooled <= 3, "\(fooled) of \(releases) equal canaries called worse")
    }

    @Test("five points more failures at 100 requests a second is seen within 30 seconds in at least 95% of releases")
    func seesARegressionQuickly() {
        var generator = SeededRandom(seed: 11)
        let releases = 200
        let seen = (0..<releases).compactMap { _ in
            Self.firstWorse(rps: 100, stableRate: 0.005, canaryRate: 0.055, windows: 24, generator: &generator)
        }
        let withinThirtySeconds = seen.count { ($0 + 1) * 5 <= 30 }
        #expect(withinThirtySeconds >= releases * 95 / 100, "\(withinThirtySeconds) of \(releases) within 30 s; windows: \(seen.sorted())")
    }
}
