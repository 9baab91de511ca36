import SerinCore
import Testing

@Suite("OutlierDetector")
struct OutlierDetectorTests {
    /// Ten endpoints and no ejection cap, so one rule is tested at a time.
    static func detector(
        consecutive5xx: Int = 5, gateway: Int = 0, interval: Duration = .seconds(10),
        base: Duration = .seconds(30), maxEjectionPercent: Int = 100, endpoints: Int = 10, panicThreshold: Int = 50
    ) -> OutlierDetector {
        OutlierDetector(
            policy: OutlierDetection(
                consecutive5xxErrors: consecutive5xx, consecutiveGatewayErrors: gateway, interval: interval,
                baseEjectionTime: base, maxEjectionPercent: maxEjectionPercent
            ),
            endpointCount: endpoints, panicThreshold: panicThreshold
        )
    }

    /// Records `outcome` `times` times and returns the last answer.
    @discardableResult
    static func fail(
        _ detector: inout OutlierDetector, endpoint: Int, times: Int,
        _ outcome: OutlierDetector.Outcome = .response(status: 500), now: Duration = .zero
    ) -> OutlierDetector.Ejection? {
        var last: OutlierDetector.Ejection?
        for _ in 0..<times { last = detector.record(endpoint: endpoint, outcome: outcome, now: now) }
        return last
    }

    @Test("ejects after exactly N consecutive 5xx, not N-1", arguments: [1, 2, 5, 7])
    func ejectsAtThreshold(threshold: Int) {
        var detector = Self.detector(consecutive5xx: threshold)
        if threshold > 1 {
            #expect(Self.fail(&detector, endpoint: 3, times: threshold - 1) == nil)
            #expect(!detector.isEjected(3, now: .zero))
        }
        let ejection = detector.record(endpoint: 3, outcome: .response(status: 500), now: .seconds(1))
        #expect(ejection?.endpoint == 3)
        #expect(ejection?.reason == .consecutive5xx(threshold))
        #expect(ejection?.since == .seconds(1))
        #expect(ejection?.until == .seconds(31))
        #expect(ejection?.ejectionCount == 1)
        #expect(detector.isEjected(3, now: .seconds(1)))
        #expect(detector.ejectedCount(now: .seconds(1)) == 1)
    }

    @Test(
        "counts the gateway's own failures as the 5xx Envoy answers them with",
        arguments: [
            OutlierDetector.Outcome.connectFailure, .reset, .timeout, .response(status: 500),
            .response(status: 503), .response(status: 599),
        ]
    )
    func localFailuresAre5xx(outcome: OutlierDetector.Outcome) {
        var detector = Self.detector(consecutive5xx: 3)
        #expect(Self.fail(&detector, endpoint: 0, times: 3, outcome) != nil)
    }

    @Test(
        "any response below 500 breaks the streak",
        arguments: [200, 204, 301, 404, 429, 499]
    )
    func nonErrorResets(status: Int) {
        var detector = Self.detector(consecutive5xx: 5)
        Self.fail(&detector, endpoint: 0, times: 4)
        #expect(detector.record(endpoint: 0, outcome: .response(status: status), now: .zero) == nil)
        #expect(Self.fail(&detector, endpoint: 0, times: 4) == nil)
        #expect(!detector.isEjected(0, now: .zero))
        #expect(Self.fail(&detector, endpoint: 0, times: 1) != nil)
    }

    @Test("keeps one streak per endpoint")
    func streaksPerEndpoint() {
        var detector = Self.detector(consecutive5xx: 3)
        for _ in 0..<2 {
            for endpoint in 0..<3 {
                #expect(detector.record(endpoint: endpoint, outcome: .reset, now: .zero) == nil)
            }
        }
        #expect(detector.ejectedCount(now: .zero) == 0)
        #expect(detector.record(endpoint: 1, outcome: .reset, now: .zero)?.endpoint == 1)
    }

    @Test("counts gateway errors on their own, with 5xx ejection off")
    func gatewayErrorsAlone() {
        var detector = Self.detector(consecutive5xx: 0, gateway: 3)
        #expect(Self.fail(&detector, endpoint: 0, times: 50, .response(status: 500)) == nil)
        Self.fail(&detector, endpoint: 0, times: 2, .response(status: 502))
        // A 5xx that is not a gateway error breaks the gateway streak, as in Envoy.
        #expect(detector.record(endpoint: 0, outcome: .response(status: 500), now: .zero) == nil)
        #expect(Self.fail(&detector, endpoint: 0, times: 2, .timeout) == nil)
        let ejection = detector.record(endpoint: 0, outcome: .connectFailure, now: .zero)
        #expect(ejection?.reason == .consecutiveGatewayErrors(3))
        #expect(ejection?.description == "endpoint 0 ejected for 30s after 3 consecutive gateway errors (ejection 1)")
    }

    @Test("ejects on whichever streak reaches its threshold first")
    func bothStreaks() {
        var gatewayFirst = Self.detector(consecutive5xx: 5, gateway: 3)
        #expect(Self.fail(&gatewayFirst, endpoint: 0, times: 3, .response(status: 503))?.reason == .consecutiveGatewayErrors(3))

        var fiveXXFirst = Self.detector(consecutive5xx: 5, gateway: 3)
        Self.fail(&fiveXXFirst, endpoint: 0, times: 2, .response(status: 503))
        Self.fail(&fiveXXFirst, endpoint: 0, times: 2, .response(status: 500))
        #expect(fiveXXFirst.record(endpoint: 0, outcome: .response(status: 504), now: .zero)?.reason == .consecutive5xx(5))
    }

    @Test("never ejects with both thresholds at 0")
    func bothOff() {
        var detector = Self.detector(consecutive5xx: 0, gateway: 0)
        #expect(Self.fail(&detector, endpoint: 0, times: 100, .connectFailure) == nil)
        #expect(detector.ejectedCount(now: .zero) == 0)
    }

    @Test("brings an endpoint back when its ejection time is over")
    func returnsAfterEjectionTime() {
        var detector = Self.detector(consecutive5xx: 1, base: .seconds(30))
        let ejection = detector.record(endpoint: 2, outcome: .reset, now: .seconds(100))
        #expect(ejection?.until == .seconds(130))
        #expect(detector.isEjected(2, now: .seconds(130) - .milliseconds(1)))
        #expect(!detector.isEjected(2, now: .seconds(130)))
        #expect(detector.ejectedCount(now: .seconds(130)) == 0)
    }

    @Test("ignores outcomes while ejected and starts streaks afresh on return")
    func streaksClearedOnReturn() {
        var detector = Self.detector(consecutive5xx: 3, base: .seconds(30))
        Self.fail(&detector, endpoint: 0, times: 3)
        #expect(Self.fail(&detector, endpoint: 0, times: 10, now: .seconds(5)) == nil)
        #expect(Self.fail(&detector, endpoint: 0, times: 2, now: .seconds(30)) == nil)
        #expect(!detector.isEjected(0, now: .seconds(30)))
        #expect(Self.fail(&detector, endpoint: 0, times: 1, now: .seconds(30)) != nil)
    }

    @Test("ejects for one more base time each time an endpoint fails right after coming back")
    func ejectionTimeGrows() {
        var detector = Self.detector(consecutive5xx: 1, base: .seconds(30))
        var now = Duration.zero
        for (count, seconds) in [(1, 30), (2, 60), (3, 90), (4, 120)] {
            let ejection = detector.record(endpoint: 0, outcome: .response(status: 500), now: now)
            #expect(ejection?.duration == .seconds(seconds))
            #expect(ejection?.ejectionCount == count)
            now = ejection?.until ?? now
        }
    }

    @Test("caps an ejection at Envoy's max_ejection_time of 300s")
    func ejectionTimeCapped() {
        var detector = Self.detector(consecutive5xx: 1, base: .seconds(30))
        var now = Duration.zero
        var durations: [Duration] = []
        for _ in 0..<14 {
            guard let ejection = detector.record(endpoint: 0, outcome: .timeout, now: now) else { break }
            durations.append(ejection.duration)
            now = ejection.until
        }
        #expect(durations.count == 14)
        #expect(durations.max() == .seconds(300))
        #expect(durations.suffix(4).allSatisfy { $0 == .seconds(300) })

        var longBase = Self.detector(consecutive5xx: 1, base: .seconds(600))
        #expect(longBase.record(endpoint: 0, outcome: .timeout, now: .zero)?.duration == .seconds(600))
        #expect(longBase.record(endpoint: 0, outcome: .timeout, now: .seconds(600))?.duration == .seconds(600))
    }

    @Test(
        "shortens the next ejection by one base time per interval an endpoint stays healthy",
        arguments: [
            (Duration.zero, 90),
            (.seconds(9), 90),
            (.seconds(10), 60),
            (.seconds(19), 60),
            (.seconds(20), 30),
            (.seconds(25), 30),
            (.seconds(500), 30),
        ]
    )
    func backoffDecays(healthyFor: Duration, nextSeconds: Int) {
        var detector = Self.detector(consecutive5xx: 1, interval: .seconds(10), base: .seconds(30))
        let first = detector.record(endpoint: 0, outcome: .reset, now: .zero)
        let second = detector.record(endpoint: 0, outcome: .reset, now: first!.until)
        #expect(second?.duration == .seconds(60))
        let third = detector.record(endpoint: 0, outcome: .reset, now: second!.until + healthyFor)
        #expect(third?.duration == .seconds(nextSeconds))
        #expect(third?.ejectionCount == 3)
    }

    @Test(
        "ejects no more than maxEjectionPercent of the endpoints, counting the one about to go",
        arguments: [
            (3, 10, 0), (9, 10, 0), (10, 10, 1), (20, 10, 2), (3, 33, 0), (3, 34, 1), (3, 67, 2),
            (4, 50, 2), (1, 99, 0), (1, 100, 1), (2, 100, 2), (5, 0, 0),
        ]
    )
    func maxEjectionPercentCaps(endpoints: Int, maxEjectionPercent: Int, expectedEjected: Int) {
        var detector = Self.detector(
            consecutive5xx: 2, maxEjectionPercent: maxEjectionPercent, endpoints: endpoints, panicThreshold: 0
        )
        for endpoint in 0..<endpoints {
            Self.fail(&detector, endpoint: endpoint, times: 2)
        }
        #expect(detector.ejectedCount(now: .zero) == expectedEjected)
    }

    @Test("resets the streak of an endpoint the cap kept in, and ejects it once there is room")
    func cappedEndpointStartsOver() {
        var detector = Self.detector(consecutive5xx: 3, base: .seconds(30), maxEjectionPercent: 50, endpoints: 2)
        #expect(Self.fail(&detector, endpoint: 0, times: 3) != nil)
        #expect(Self.fail(&detector, endpoint: 1, times: 3) == nil)
        // Room again once endpoint 0 is back; endpoint 1 needs a full new streak.
        #expect(Self.fail(&detector, endpoint: 1, times: 2, now: .seconds(30)) == nil)
        #expect(Self.fail(&detector, endpoint: 1, times: 1, now: .seconds(30)) != nil)
    }

    @Test("round-robins over the endpoints that are in, skipping ejected ones")
    func roundRobinSkipsEjected() {
        var detector = Self.detector(consecutive5xx: 1, endpoints: 4)
        #expect((0..<8).map { detector.pick(forTurn: $0, now: .zero) } == [0, 1, 2, 3, 0, 1, 2, 3])
        _ = detector.record(endpoint: 1, outcome: .connectFailure, now: .zero)
        #expect((0..<6).map { detector.pick(forTurn: $0, now: .zero) } == [0, 2, 3, 0, 2, 3])
        #expect(detector.pick(forTurn: -1, now: .zero) == 2)
        // Back after 30s.
        #expect((0..<4).map { detector.pick(forTurn: $0, now: .seconds(30)) } == [0, 1, 2, 3])
    }

    @Test("balances over every endpoint when fewer than half are in (Envoy's 50% panic threshold)")
    func panicMode() {
        var detector = Self.detector(consecutive5xx: 1, endpoints: 4)
        _ = detector.record(endpoint: 0, outcome: .reset, now: .zero)
        _ = detector.record(endpoint: 1, outcome: .reset, now: .zero)
        // Exactly half in: no panic.
        #expect(!detector.isInPanic(now: .zero))
        #expect((0..<4).map { detector.pick(forTurn: $0, now: .zero) } == [2, 3, 2, 3])
        _ = detector.record(endpoint: 2, outcome: .reset, now: .zero)
        #expect(detector.isInPanic(now: .zero))
        #expect((0..<4).map { detector.pick(forTurn: $0, now: .zero) } == [0, 1, 2, 3])
        _ = detector.record(endpoint: 3, outcome: .reset, now: .zero)
        #expect((0..<4).map { detector.pick(forTurn: $0, now: .zero) } == [0, 1, 2, 3])
        #expect(!detector.isInPanic(now: .seconds(30)))
    }

    @Test("finds no endpoint when all are ejected and the panic threshold is 0, as Istio configures it")
    func noPanicWithZeroThreshold() {
        var detector = Self.detector(consecutive5xx: 1, endpoints: 2, panicThreshold: 0)
        _ = detector.record(endpoint: 0, outcome: .reset, now: .zero)
        #expect(detector.pick(forTurn: 0, now: .zero) == 1)
        #expect(detector.pick(forTurn: 1, now: .zero) == 1)
        _ = detector.record(endpoint: 1, outcome: .reset, now: .zero)
        #expect(!detector.isInPanic(now: .zero))
        #expect(detector.pick(forTurn: 0, now: .zero) == nil)
    }

    @Test("has nothing to pick in a cluster without endpoints and ignores endpoints out of range")
    func emptyAndOutOfRange() {
        var empty = Self.detector(endpoints: 0)
        #expect(empty.pick(forTurn: 0, now: .zero) == nil)
        #expect(empty.record(endpoint: 0, outcome: .reset, now: .zero) == nil)
        #expect(!empty.isInPanic(now: .zero))

        var detector = Self.detector(consecutive5xx: 1, endpoints: 2)
        #expect(detector.record(endpoint: 2, outcome: .reset, now: .zero) == nil)
        #expect(detector.record(endpoint: -1, outcome: .reset, now: .zero) == nil)
        #expect(!detector.isEjected(5, now: .zero))
        #expect(detector.ejectedCount(now: .zero) == 0)
    }

    @Test("with Istio's defaults, ejects one endpoint of ten after 5 consecutive 5xx for 30s")
    func istioDefaults() {
        var detector = OutlierDetector(policy: OutlierDetection(), endpointCount: 10)
        #expect(Self.fail(&detector, endpoint: 4, times: 4) == nil)
        let ejection = Self.fail(&detector, endpoint: 4, times: 1)
        #expect(ejection?.description == "endpoint 4 ejected for 30s after 5 consecutive 5xx (ejection 1)")
        #expect(Self.fail(&detector, endpoint: 5, times: 5) == nil)
        #expect(detector.ejectedCount(now: .zero) == 1)
    }

    @Test("splitExternalLocalOriginErrors: the gateway's own failures eject on their own streak, which an answer ends; the 5xx streak counts only answers")
    func splitLocalOriginErrors() {
        var detector = OutlierDetector(
            policy: OutlierDetection(
                consecutive5xxErrors: 3, maxEjectionPercent: 100, splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 2
            ),
            endpointCount: 4, panicThreshold: 0
        )
        // Connect failures, resets and timeouts are one streak, ejecting at 2, where unsplit they were 5xx.
        #expect(detector.record(endpoint: 0, outcome: .connectFailure, now: .zero) == nil)
        #expect(detector.record(endpoint: 0, outcome: .timeout, now: .zero)?.reason == .consecutiveLocalOriginFailures(2))
        // An answer, even a 500, means the endpoint was reached: the local streak starts over.
        #expect(detector.record(endpoint: 1, outcome: .reset, now: .zero) == nil)
        #expect(detector.record(endpoint: 1, outcome: .response(status: 500), now: .zero) == nil)
        #expect(detector.record(endpoint: 1, outcome: .reset, now: .zero) == nil)
        #expect(!detector.isEjected(1, now: .zero))
        // Local failures do not feed the 5xx streak: two 500s, a connect failure, a 500 make three answers in a row.
        #expect(detector.record(endpoint: 2, outcome: .response(status: 500), now: .zero) == nil)
        #expect(detector.record(endpoint: 2, outcome: .response(status: 500), now: .zero) == nil)
        #expect(detector.record(endpoint: 2, outcome: .connectFailure, now: .zero) == nil)
        #expect(detector.record(endpoint: 2, outcome: .response(status: 502), now: .zero)?.reason == .consecutive5xx(3))
        // Unsplit, the same three local failures are 5xx and eject at the 5xx threshold.
        var unsplit = Self.detector(consecutive5xx: 3)
        #expect(Self.fail(&unsplit, endpoint: 0, times: 3, .connectFailure)?.reason == .consecutive5xx(3))
    }
}
