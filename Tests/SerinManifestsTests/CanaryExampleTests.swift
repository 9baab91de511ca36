import Foundation
import SerinCore
import SerinManifests
import Testing

@Suite("Canary example")
struct CanaryExampleTests {
    private static let seed = Fixture.seedDirectory
    private static let canary = Fixture.canaryDirectory

    @Test("the seed and the canary examples load together with no errors; only the legacy Deployments are warned about")
    func seedWithCanary() throws {
        let loaded = ManifestLoader.load(paths: [Self.seed, Self.canary], recursive: false)
        #expect(loaded.diagnostics.isEmpty)
        let set = ManifestSet(sources: loaded.sources)
        #expect(!set.hasErrors, "\(Fixture.messages(set.errors))")
        #expect(
            Fixture.messages(set.warnings) == [
                "\(Self.seed)/web-v1-deployment.yaml:1:1: warning: Deployment web-v1 uses extensions/v1beta1, which Kubernetes removed in 1.16; use apps/v1",
                "\(Self.seed)/web-v2-deployment.yaml:1:1: warning: Deployment web-v2 uses extensions/v1beta1, which Kubernetes removed in 1.16; use apps/v1",
            ]
        )
        let expected = CanarySpec(
            name: ResourceName(name: "web"), targetRef: ResourceName(name: "web-virtualservice"),
            // No stable written: the example releases from what the route serves.
            stable: nil, canary: Destination(host: "web-v2-service", port: 80),
            analysis: AnalysisSpec(
                interval: .seconds(8), threshold: 2, schedule: try WeightSchedule(stepWeight: 20, maxWeight: 80),
                metrics: [
                    .requestSuccessRate(min: 99, interval: .seconds(8), minRequests: 10),
                    .requestDuration(maxMilliseconds: 250, interval: .seconds(8), minRequests: 10),
                ],
                // progressDeadlineSeconds 60, plus the 8s interval.
                progressDeadline: .seconds(68)
            )
        )
        #expect(set.canaries == [expected])
        #expect(set.canaries.first?.analysis.schedule.weights == [20, 40, 60, 80])
        // Flagger's format, read unchanged; web-canary.yaml does not use it, so the demo needs no Prometheus.
        let template = try #require(set.metricTemplates.first)
        #expect(set.metricTemplates.count == 1)
        #expect(template.name == ResourceName(name: "not-found-percentage"))
        #expect(template.source == .prometheus(address: "http://127.0.0.1:9090"))
        #expect(template.query.contains(#"response_code!="404""#))
        #expect(set.resources.first { $0.kind == .metricTemplate }?.apiVersion == "flagger.app/v1beta1")
    }

    @Test("examples/strategies/paced-canary.yaml loads with the seed: a plain step, a 1m pause, a promote pause, a plain step, promotion by 10%")
    func pacedExample() throws {
        let paced = Fixture.repositoryRoot.appendingPathComponent("examples/strategies/paced-canary.yaml").path
        let loaded = ManifestLoader.load(paths: [Self.seed, paced], recursive: false)
        #expect(loaded.diagnostics.isEmpty)
        let set = ManifestSet(sources: loaded.sources)
        #expect(!set.hasErrors, "\(Fixture.messages(set.errors))")
        let schedule = try #require(set.canaries.first?.analysis.schedule)
        #expect(schedule == (try WeightSchedule(pacedSteps: [
            .init(weight: 10), .init(weight: 25, pause: .duration(.seconds(60))), .init(weight: 50, pause: .promote), .init(weight: 80),
        ])))
        #expect(set.canaries.first?.analysis.stepWeightPromotion == 10)
    }
}
