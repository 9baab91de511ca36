import SerinCore
@testable import SerinKubernetes
import Testing

/// The Events a revert on deletion tells, fed attempt by attempt as the watcher feeds them.
@Suite("Revert narration")
struct RevertNarrationTests {
    static let now = RolloutInstant(sinceEpoch: .seconds(1_700_000_000))

    static func told(_ events: [RolloutEvent]) -> [String] {
        events.map { "\($0.severity.rawValue) \($0.message)" }
    }

    @Test("each step is told once though later attempts do it again, in Flagger's words at either end")
    func stepsAreToldOnce() {
        var narration = RevertNarration(canary: ResourceName(namespace: "shop", name: "web"))
        let waiting: [DeletionRevert.Step] = [.routes("all traffic to web-primary:80"), .target("Deployment shop/web scaled back up like web-primary")]
        #expect(Self.told(narration.events(for: [.terminating] + waiting, failure: nil, at: Self.now)) == [
            "Normal Terminating canary web.shop: deleted with spec.revertOnDeletion, it is kept until Serin has put back what it changed",
            "Normal routes reverted: all traffic to web-primary:80",
            "Normal target reverted: Deployment shop/web scaled back up like web-primary",
        ])
        #expect(narration.events(for: waiting, failure: nil, at: Self.now).isEmpty)
        #expect(Self.told(narration.events(for: waiting + [.finalized("finalizer.flagger.app")], failure: nil, at: Self.now)) == [
            "Normal Terminated canary web.shop: reverted, finalizer finalizer.flagger.app removed",
        ])
    }

    @Test("a failure is a Warning told once however often the attempt fails so, and a different failure is told too")
    func eachDistinctFailureIsToldOnce() {
        var narration = RevertNarration(canary: ResourceName(name: "web"))
        #expect(Self.told(narration.events(for: [.terminating], failure: "cannot revert it: 500 InternalError", at: Self.now)) == [
            "Normal Terminating canary web.default: deleted with spec.revertOnDeletion, it is kept until Serin has put back what it changed",
            "Warning cannot revert it: 500 InternalError",
        ])
        for _ in 0..<5 { #expect(narration.events(for: [], failure: "cannot revert it: 500 InternalError", at: Self.now).isEmpty) }
        #expect(Self.told(narration.events(for: [], failure: "cannot revert it: 403 Forbidden", at: Self.now)) == ["Warning cannot revert it: 403 Forbidden"])
    }

    @Test("the target reverted without its primary is a Warning")
    func missingPrimaryIsAWarning() {
        var narration = RevertNarration(canary: ResourceName(name: "podinfo"))
        let events = narration.events(for: [.targetWithoutPrimary("Deployment default/podinfo-primary is gone")], failure: nil, at: Self.now)
        #expect(Self.told(events) == ["Warning target reverted without its primary: Deployment default/podinfo-primary is gone"])
    }
}
