import Foundation
@testable import SerinCLI
import SerinCore
import SerinServer
import SerinTesting
import Testing

/// `serin status`'s table as people read it.
@Suite("serin status table")
struct StatusTableTests {
    @Test("a rollout's message is printed once under the table, named once")
    func messageNamedOnce() throws {
        var status = CanaryStatus(rollout: try RolloutFixture.rollout(ResourceName(name: "web")), measurements: [])
        status.message = "web: advance canary weight to 20%"
        let lines = StatusTable.render([status]).split(separator: "\n")
        #expect(lines.last == "web: advance canary weight to 20%", "\(lines)")
        status.message = "waiting for the primary"
        #expect(StatusTable.render([status]).split(separator: "\n").last == "web: waiting for the primary")
    }

    @Test("a rollout held at a closed gate shows Flagger's phase, Waiting or WaitingPromotion, which Flagger's runbooks wait on; a pause stays Paused")
    func gatePhasesInFlaggerWords() throws {
        var status = CanaryStatus(rollout: try RolloutFixture.rollout(ResourceName(name: "web")), measurements: [])
        status.phase = .progressing
        for (flagger, shown) in [("Waiting", "Waiting"), ("WaitingPromotion", "WaitingPromotion"), ("Progressing", "Progressing"), (nil, "Progressing")] {
            status.flaggerPhase = flagger
            #expect(StatusTable.render([status]).split(separator: "\n")[1].hasPrefix("web   \(shown) "), "\(StatusTable.render([status]))")
        }
        status.phase = .paused
        status.flaggerPhase = "Waiting"
        #expect(status.phaseLabel == "Paused")
    }

    @Test("a suspended Canary is said suspended under the table, even when its last event speaks of something else, and only once when it says so")
    func suspendedIsSaid() throws {
        var status = CanaryStatus(rollout: try RolloutFixture.rollout(ResourceName(name: "web")), measurements: [])
        status.suspended = true
        status.message = "web: advance canary weight to 20%"
        #expect(StatusTable.render([status]).split(separator: "\n").suffix(2) == ["web: suspended: spec.suspend is true", "web: advance canary weight to 20%"])
        status.message = "web: suspended: spec.suspend is true; the rollout holds at canary weight 20% until it is false"
        let lines = StatusTable.render([status]).split(separator: "\n")
        #expect(lines.filter { $0.contains("suspended") } == ["web: suspended: spec.suspend is true; the rollout holds at canary weight 20% until it is false"])
    }

    @Test("-A: a NAMESPACE column first, as kubectl get -A prints, and the lines under the table name NAMESPACE/NAME, since two namespaces may each have a web")
    func allNamespaces() throws {
        var shop = CanaryStatus(rollout: try RolloutFixture.rollout(ResourceName(namespace: "shop", name: "web")), measurements: [])
        shop.message = "web: advance canary weight to 20%"
        var blog = CanaryStatus(rollout: try RolloutFixture.rollout(ResourceName(namespace: "blog", name: "web")), measurements: [])
        blog.message = "waiting for the primary"
        let lines = StatusTable.render([blog, shop], namespaces: true).split(separator: "\n").map(String.init)
        #expect(lines[0].hasPrefix("NAMESPACE  NAME  PHASE"), "\(lines)")
        #expect(lines[1].hasPrefix("blog       web   "), "\(lines)")
        #expect(lines[2].hasPrefix("shop       web   "), "\(lines)")
        #expect(lines.suffix(2) == ["blog/web: waiting for the primary", "shop/web: advance canary weight to 20%"])
        #expect(!StatusTable.render([blog], namespaces: false).contains("NAMESPACE"))
    }

    @Test("one Serin's table (--server) has the NAMESPACE column once any Canary is outside default, and not before")
    func namespacesWhenAnyIsOutsideDefault() throws {
        let web = CanaryStatus(rollout: try RolloutFixture.rollout(ResourceName(name: "web")), measurements: [])
        let shop = CanaryStatus(rollout: try RolloutFixture.rollout(ResourceName(namespace: "shop", name: "web")), measurements: [])
        #expect(!StatusTable.render([web]).contains("NAMESPACE"))
        let lines = StatusTable.render([web, shop]).split(separator: "\n").map(String.init)
        #expect(lines[0].hasPrefix("NAMESPACE  NAME  PHASE"), "\(lines)")
        #expect(lines[1].hasPrefix("default    web   "), "\(lines)")
        #expect(lines[2].hasPrefix("shop       web   "), "\(lines)")
    }

    @Test("a log line names a Canary outside the default namespace NAMESPACE/NAME; one in default, or a line that does not begin with its name, is left as it is")
    func logLinesQualifyTheName() {
        #expect(ResourceName(namespace: "shop", name: "web").qualifying("web: advance canary weight to 20%") == "shop/web: advance canary weight to 20%")
        #expect(ResourceName(name: "web").qualifying("web: advance canary weight to 20%") == "web: advance canary weight to 20%")
        #expect(ResourceName(namespace: "shop", name: "web").qualifying("webshop: x") == "webshop: x")
    }

    @Test("a verdict on mirrored copies of requests says so beside it; one on live traffic does not")
    func mirroredVerdictsSaySo() throws {
        let name = ResourceName(name: "web")
        func measured(_ metric: String, mirrored: Bool) -> RecordedMeasurement {
            RecordedMeasurement(
                canary: name, instant: RolloutInstant(sinceEpoch: .seconds(60)), metric: metric, canaryValue: 100, stableValue: 100,
                canaryRequests: 50, stableRequests: 500, canaryWeight: 0, verdict: .pass, mirrored: mirrored)
        }
        let status = CanaryStatus(rollout: try RolloutFixture.rollout(name), measurements: [
            measured("request-success-rate", mirrored: true), measured("request-duration", mirrored: false),
        ])
        let table = StatusTable.render([status])
        #expect(table.contains("request-success-rate pass (mirrored), request-duration pass"), "\(table)")
        #expect(StatusWatch.line(status).hasSuffix("request-success-rate pass (mirrored), request-duration pass"), "\(StatusWatch.line(status))")
    }

    @Test("a sticky Canary's split says which request key pins each client")
    func stickinessBesideTheWeights() throws {
        let name = ResourceName(name: "web")
        #expect(!StatusTable.render([CanaryStatus(rollout: try RolloutFixture.rollout(name), measurements: [])]).contains(" by "))
        var spec = try RolloutFixture.spec(name)
        spec.analysis.stickiness = .header("x-user-id")
        let status = CanaryStatus(rollout: try Rollout(spec: spec), measurements: [])
        #expect(status.stickiness == "header x-user-id")
        let row = StatusTable.render([status]).split(separator: "\n")[1]
        #expect(row.contains("\(status.stableWeight)/\(status.canaryWeight) by header x-user-id"), "\(row)")
    }

    @Test("a promote that released a pause says so, not 'promoting', since the rollout goes on progressing; one already over says 'promoted'")
    func promoteThatReleasedAPause() {
        #expect(RolloutCommand.promote.said(phase: "Progressing") == "pause released")
        #expect(RolloutCommand.promote.said(phase: "Promoting") == "promoting")
        #expect(RolloutCommand.promote.said(phase: "Succeeded") == "promoted")
        #expect(RolloutCommand.promote.said(phase: "Succeeded", weightsRefused: true) == "not promoted yet")
        #expect(RolloutCommand.pause.said(phase: "Paused") == "paused")
    }

    @Test("after a promotion the table, the JSON and the watch line tell one story: the promoted version is the stable with all the traffic, 100/0, and the canary column says it was promoted")
    func promotedReadsAsTheStable() throws {
        let name = ResourceName(name: "web")
        let rollout = try RolloutFixture.promoted(name, start: RolloutInstant(sinceEpoch: .seconds(1_000_000)))
        let status = CanaryStatus(rollout: rollout, measurements: [])
        let (v1, v2) = (RolloutFixture.destination(of: name, "v1").description, RolloutFixture.destination(of: name, "v2").description)
        #expect(status.phase == .succeeded)
        let row = StatusTable.render([status]).split(separator: "\n")[1].split(separator: "  ", omittingEmptySubsequences: true)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(Array(row.prefix(5)) == ["web", "Succeeded", v2, "\(v2) (promoted)", "100/0"], "\(row)")
        // `serin status -o json` and GET /canaries/NAME: the same fields, Flagger's weight 0 for a Succeeded canary.
        let json = try #require(try JSONSerialization.jsonObject(with: Data(JSONText.encode(status).utf8)) as? [String: Any])
        #expect(json["stable"] as? String == v2 && json["canary"] as? String == v2 && json["promoted"] as? Bool == true, "\(json)")
        #expect(json["stableWeight"] as? Int == 100 && json["canaryWeight"] as? Int == 0, "\(json)")
        // The release itself still reads v1 → v2, promoted, and its routes send all to v2.
        #expect(status.releases.last.map { [$0.stable, $0.canary, $0.outcome] } == [v1, v2, "Promoted"])
        #expect(status.releaseWeights == (0, 100))
        // A release still in flight reads as before, with no promoted label.
        let progressing = CanaryStatus(rollout: try RolloutFixture.midRollout(name, start: RolloutInstant(sinceEpoch: .seconds(0))).rollout, measurements: [])
        #expect(progressing.promoted == nil && progressing.canaryLabel == v2 && progressing.stable == v1 && progressing.weightsLabel == "50/50")
    }

    @Test("weights the router refused read as such beside the split: the routes do not carry them")
    func refusedWeights() throws {
        var status = CanaryStatus(rollout: try RolloutFixture.rollout(ResourceName(name: "web")), measurements: [])
        status.stableWeight = 80
        status.canaryWeight = 20
        #expect(StatusTable.render([status]).split(separator: "\n")[1].contains("  80/20  "))
        status.weightsRefused = true
        #expect(StatusTable.render([status]).split(separator: "\n")[1].contains("  80/20 (refused)  "))
    }

    @Test("a blue/green Canary's step reads as an iteration; a weight step keeps the plain count")
    func blueGreenIteration() throws {
        var spec = try RolloutFixture.spec(ResourceName(name: "web"))
        var weighted = CanaryStatus(rollout: try Rollout(spec: spec), measurements: [])
        weighted.step = 2
        #expect(StatusTable.render([weighted]).contains("  2/3  "))
        spec.analysis.schedule = try WeightSchedule(iterations: 10)
        var blueGreen = CanaryStatus(rollout: try Rollout(spec: spec), measurements: [])
        blueGreen.step = 4
        #expect(blueGreen.stepLabel == "iteration 4/10")
        #expect(StatusTable.render([blueGreen]).contains("  iteration 4/10  "))
    }

    @Test("an A/B test shows its iterations and, on a line of its own, who reaches the canary")
    func abTestingMatch() throws {
        var spec = try RolloutFixture.spec(ResourceName(name: "web"))
        spec.analysis.schedule = try WeightSchedule(iterations: 10)
        spec.analysis.match = [RequestMatch(headers: ["x-canary": .exact("insider")])]
        var status = CanaryStatus(rollout: try Rollout(spec: spec), measurements: [])
        status.step = 2
        let table = StatusTable.render([status])
        #expect(table.contains("  iteration 2/10  "))
        #expect(table.contains("\nweb: strategy: abTesting\nweb: A/B: header x-canary = insider"), "\(table)")
    }

    @Test("a mirroring blue/green shows its iterations and, on a line of its own while its iterations run or wait paused, the share copied to the canary; not once it ended")
    func mirroringShare() throws {
        var spec = try RolloutFixture.spec(ResourceName(name: "web"))
        spec.analysis.schedule = try WeightSchedule(iterations: 10)
        spec.analysis.mirror = Percent(50)
        var status = CanaryStatus(rollout: try Rollout(spec: spec), measurements: [])
        #expect(status.mirroring == nil, "no copy before the first iteration")
        status.step = 3
        // As the server says it: copying while an iteration runs or waits paused, not once the release ended.
        status.mirroring = true
        for phase in [RolloutPhase.progressing, .paused] {
            status.phase = phase
            let table = StatusTable.render([status])
            #expect(table.contains("  iteration 3/10  "))
            #expect(table.contains("\nweb: strategy: blueGreenMirroring\nweb: mirror: 50% of requests copied to the canary"), "\(table)")
        }
        status.mirroring = nil
        for phase in [RolloutPhase.succeeded, .failed, .initialized] {
            status.phase = phase
            #expect(!StatusTable.render([status]).contains("mirror:"), "\(phase)")
        }
    }

    @Test("a Canary that sends its own load says what it sends on a line of its own while it sends it; a plain canary names no strategy")
    func syntheticLoad() throws {
        var spec = try RolloutFixture.spec(ResourceName(name: "web"))
        let plain = StatusTable.render([CanaryStatus(rollout: try Rollout(spec: spec), measurements: [])])
        #expect(!plain.contains("strategy:") && !plain.contains("synthetic load:"), "\(plain)")
        spec.analysis.load = SyntheticLoad(rps: 10, path: "/", headers: [:], duration: .seconds(8))
        var status = CanaryStatus(rollout: try Rollout(spec: spec), measurements: [])
        status.phase = .progressing
        let table = StatusTable.render([status])
        #expect(table.contains("\nweb: synthetic load: \(try #require(status.syntheticLoad))"), "\(table)")
        #expect(table.contains("10 req/s"), "\(table)")
        // The load runs only while the rollout progresses: not paused, not once it ended.
        for phase in [RolloutPhase.paused, .succeeded, .failed, .initialized] {
            status.phase = phase
            #expect(!StatusTable.render([status]).contains("synthetic load:"), "\(phase)")
        }
    }
}

@Suite("serin history's table")
struct HistoryTableTests {
    @Test("a Deployment target's releases name their revisions, since its hosts are always NAME-primary and NAME-canary")
    func releasesNameRevisions() {
        let primary = Destination(host: "podinfo-primary", port: 9898)
        let canary = Destination(host: "podinfo-canary", port: 9898)
        let releases = [
            Release(stable: primary, canary: canary, outcome: .rolledBack, reason: "abort requested", startedAt: RolloutInstant(sinceEpoch: .seconds(10)),
                    stableRevision: "6d5f7c9b4", canaryRevision: "7b8c9d0e1"),
            Release(stable: Destination(host: "web-v1-service", port: 80), canary: Destination(host: "web-v2-service", port: 80),
                    outcome: .promoted, startedAt: RolloutInstant(sinceEpoch: .seconds(20))),
        ]
        let lines = HistoryTable.lines(CanaryHistory(releases: releases.map(ReleaseStatus.init), events: [], measurements: []))
        #expect(lines.count == 4 && lines.first == "releases:" && lines.last == "events:")
        #expect(lines[1].hasSuffix("  podinfo-primary:9898 (6d5f7c9b4) → podinfo-canary:9898 (7b8c9d0e1)  RolledBack: abort requested"), "\(lines)")
        #expect(lines[2].hasSuffix("  web-v1-service:80 → web-v2-service:80  Promoted"), "\(lines)")
    }
}
