import Foundation
import SerinCore
import Testing

/// An instant `seconds` after the test epoch.
func t(_ seconds: Int) -> RolloutInstant {
    RolloutInstant(sinceEpoch: .seconds(seconds))
}

/// The seed's web service: v1 stable, v2 canary, driven through `web-virtualservice`.
enum Fixture {
    static let name = ResourceName(namespace: "shop", name: "web")
    static let target = ResourceName(namespace: "shop", name: "web-virtualservice")
    static let stable = Destination(host: "web-v1-service")
    static let canary = Destination(host: "web-v2-service")
    static let nextCanary = Destination(host: "web-v3-service")

    static func spec(
        weights: [Int] = [10, 50], threshold: Int = 2, interval: Duration = .seconds(30),
        deadline: Duration = .seconds(600), metrics: [MetricCheck] = MetricCheck.builtInDefaults,
        webhooks: [WebhookSpec] = [], skipAnalysis: Bool = false, canary: Destination = Fixture.canary
    ) throws -> CanarySpec {
        CanarySpec(
            name: name, targetRef: target, stable: stable, canary: canary,
            analysis: AnalysisSpec(
                interval: interval, threshold: threshold, schedule: try WeightSchedule(stepWeights: weights),
                metrics: metrics, webhooks: webhooks, progressDeadline: deadline),
            skipAnalysis: skipAnalysis)
    }

    static func hook(_ type: WebhookType, name: String? = nil, metadata: [String: String] = [:]) -> WebhookSpec {
        WebhookSpec(name: name ?? "\(type)-hook", type: type, url: "http://hooks.shop/\(type)", metadata: metadata)
    }

    static func rollout(
        weights: [Int] = [10, 50], threshold: Int = 2, interval: Duration = .seconds(30),
        deadline: Duration = .seconds(600), webhooks: [WebhookSpec] = [], skipAnalysis: Bool = false
    ) throws -> Rollout {
        try Rollout(spec: spec(weights: weights, threshold: threshold, interval: interval, deadline: deadline,
                               webhooks: webhooks, skipAnalysis: skipAnalysis))
    }
}

extension RolloutAction {
    /// `setWeights` of a split with nothing retiring, as most tests expect it.
    static func setWeights(stable: WeightedDestination, canary: WeightedDestination) -> RolloutAction {
        .setWeights(TrafficSplit(stable: stable, canary: canary))
    }
}

extension [RolloutAction] {
    var phases: [RolloutPhase] {
        compactMap { if case .phaseChanged(let phase) = $0 { return phase } else { return nil } }
    }

    var messages: [String] {
        compactMap { if case .record(let event) = $0 { return event.message } else { return nil } }
    }

    var events: [RolloutEvent] {
        compactMap { if case .record(let event) = $0 { return event } else { return nil } }
    }

    /// Canary weights in the order they were set.
    var canaryWeights: [Int] {
        compactMap { if case .setWeights(let split) = $0 { return split.canary.weight } else { return nil } }
    }

    var webhookRuns: [WebhookRun] {
        compactMap { if case .runWebhooks(let run) = $0 { return run } else { return nil } }
    }

    var analysisRequests: [AnalysisRequest] {
        compactMap { if case .analyze(let request) = $0 { return request } else { return nil } }
    }

    var notifications: [[WebhookCall]] {
        compactMap { if case .notifyWebhooks(let calls) = $0 { return calls } else { return nil } }
    }

    var finished: [RolloutPhase] {
        compactMap { if case .finished(let phase) = $0 { return phase } else { return nil } }
    }
}

/// Feeds events to a rollout the way a controller would and keeps every action it was asked to run.
struct Driver {
    var rollout: Rollout
    var log: [RolloutAction] = []
    var rejections: [RolloutRejection] = []

    init(_ rollout: Rollout) {
        self.rollout = rollout
    }

    @discardableResult
    mutating func send(_ event: (inout Rollout) -> RolloutOutcome) -> RolloutOutcome {
        let outcome = event(&rollout)
        switch outcome {
        case .accepted(let actions): log += actions
        case .rejected(let rejection): rejections.append(rejection)
        }
        return outcome
    }

    @discardableResult mutating func start(_ at: Int) -> RolloutOutcome { send { $0.start(now: t(at)) } }

    /// The rollout as a controller restores it from its store: encoded and decoded again, expected unchanged.
    func storedAndRestored() throws -> Rollout {
        let restored = try JSONDecoder().decode(Rollout.self, from: JSONEncoder().encode(rollout))
        #expect(restored == rollout)
        return restored
    }
    @discardableResult mutating func tick(_ at: Int) -> RolloutOutcome { send { $0.tick(now: t(at)) } }
    @discardableResult mutating func verdict(_ verdict: Verdict, _ at: Int) -> RolloutOutcome {
        send { $0.analysisCompleted(verdict: verdict, now: t(at)) }
    }

    /// Answers the most recent run of `type` the rollout asked for, with that run's ticket.
    @discardableResult
    mutating func answer(_ type: WebhookType, _ result: WebhookResult, _ at: Int) throws -> RolloutOutcome {
        let run = try #require(log.webhookRuns.last { $0.type == type }, "no \(type) webhooks were requested")
        return send { $0.webhookCompleted(ticket: run.ticket, result: result, now: t(at)) }
    }

    /// Ticks when the next check is due and answers its analysis request with `verdict`; returns the instant used.
    @discardableResult
    mutating func completeInterval(with verdict: Verdict) throws -> Int {
        let due = try #require(rollout.status.nextCheckAt, "no check is scheduled")
        let at = Int(due.sinceEpoch.components.seconds)
        let before = log.analysisRequests.count
        tick(at)
        #expect(log.analysisRequests.count == before + 1, "the due tick should ask for an analysis")
        self.verdict(verdict, at)
        return at
    }
}
