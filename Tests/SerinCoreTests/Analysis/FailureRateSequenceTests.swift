import SerinCore
import SerinTesting
import Testing

/// The anytime-valid interval on a failure rate: its ends against scipy's, and its promise — looked at after every
/// request, it excludes the true rate in no more than 1 − confidence of streams.
@Suite("Failure rate confidence sequence")
struct FailureRateSequenceTests {
    struct Case: Codable {
        var failures: Int
        var requests: Int
        var confidence: Double
    }

    struct Interval: Codable {
        var lower: Double
        var upper: Double
    }

    static let cases = [
        Case(failures: 0, requests: 10, confidence: 0.99), Case(failures: 0, requests: 1_000, confidence: 0.995),
        Case(failures: 3, requests: 1_000, confidence: 0.99), Case(failures: 21, requests: 1_000, confidence: 0.995),
        Case(failures: 40, requests: 100, confidence: 0.95), Case(failures: 1, requests: 2, confidence: 0.9),
        Case(failures: 7, requests: 7, confidence: 0.99), Case(failures: 120, requests: 100_000, confidence: 0.999),
    ]

    /// The same interval, computed on its own: scipy's log-beta and Brent's root finder on each side of the observed
    /// rate, where the mixture's evidence against the rate crosses log(1/α).
    static let reference = """
        import json, sys
        from math import log, log1p
        from scipy.special import betaln
        from scipy.optimize import brentq
        a = b = 0.5
        out = []
        for case in json.load(open(sys.argv[1])):
            x, n, bound = case["failures"], case["requests"], log(1 / (1 - case["confidence"]))
            mix = betaln(x + a, n - x + b) - betaln(a, b)
            def excess(p):
                at = (x * log(p) if x else 0.0) + ((n - x) * log1p(-p) if x < n else 0.0)
                return mix - at - bound
            mle = x / n
            lower = 0.0 if x == 0 else brentq(excess, 1e-300, mle, xtol=1e-15, rtol=1e-14)
            upper = 1.0 if x == n else brentq(excess, mle, 1 - 1e-16, xtol=1e-15, rtol=1e-14)
            out.append({"lower": lower, "upper": upper})
        print(json.dumps(out))
        """

    @Test("each end of the interval matches scipy's to 1e-9", .enabled(if: SciPy.shouldRun, "python3 with scipy is not installed here (pip install scipy); CI runs this"))
    func matchesScipy() async throws {
        let expected = try await SciPy.evaluate(Self.reference, input: Self.cases, as: [Interval].self)
        let sequence = FailureRateSequence()
        for (input, reference) in zip(Self.cases, expected) {
            let interval = sequence.interval(failures: input.failures, requests: input.requests, confidence: input.confidence)
            #expect(abs(interval.lowerBound - reference.lower) < 1e-9, "\(input): \(interval) vs \(reference)")
            #expect(abs(interval.upperBound - reference.upper) < 1e-9, "\(input): \(interval) vs \(reference)")
        }
    }

    @Test("before any request every rate is possible; the interval narrows around the observed rate")
    func narrowsWithRequests() {
        let sequence = FailureRateSequence()
        #expect(sequence.interval(failures: 0, requests: 0, confidence: 0.99) == 0...1)
        var previous = 0.0...1.0
        for requests in [100, 1_000, 10_000, 100_000] {
            let interval = sequence.interval(failures: requests / 50, requests: requests, confidence: 0.99)
            #expect(interval.contains(0.02), "\(requests): \(interval)")
            #expect(interval.upperBound - interval.lowerBound < previous.upperBound - previous.lowerBound)
            previous = interval
        }
        #expect(previous.upperBound - previous.lowerBound < 0.005, "100,000 requests pin a 2% rate to within half a point: \(previous)")
    }

    @Test(
        "looked at again and again as requests arrive, the interval ever excludes the true rate in at most 1 − confidence of streams",
        arguments: [0.002, 0.02, 0.2]
    )
    func staysValidUnderContinuousLooking(rate: Double) {
        var generator = SeededRandom(seed: 2026)
        let sequence = FailureRateSequence()
        let (streams, length, confidence) = (400, 2_000, 0.95)
        var missed = 0
        for _ in 0..<streams {
            var failures = 0
            for requests in 1...length {
                if Double(generator.next() >> 11) / Double(1 << 53) < rate { failures += 1 }
                // Every 25th request: 80 looks a stream, as a controller checking every few seconds makes.
                guard requests % 25 == 0 else { continue }
                if !sequence.interval(failures: failures, requests: requests, confidence: confidence).contains(rate) {
                    missed += 1
                    break
                }
            }
        }
        // 5% allowed; the mixture is conservative, so far fewer in practice. 400 streams put 2σ of a true 5% at 7.2%.
        #expect(Double(missed) / Double(streams) <= 0.05, "\(missed) of \(streams) streams excluded the true rate \(rate)")
    }
}
