import Foundation
import SerinCore
import SerinManifests
import Testing

@Suite("Canary decoding")
struct CanaryDecodingTests {
    /// A small valid Canary; the error table edits one line of it at a time, so lines and columns stay known.
    static let minimal = """
        apiVersion: serin.dev/v1alpha1
        kind: Canary
        metadata: {name: web}
        spec:
          targetRef: {name: web-virtualservice}
          stable: {host: web-v1-service, port: 80}
          canary: {host: web-v2-service, port: 80}
          analysis:
            interval: 30s
            stepWeight: 10
            maxWeight: 50
        """

    private func decodeCanary(_ yaml: String) -> (spec: CanarySpec?, messages: [String]) {
        Fixture.decodeCanary(yaml)
    }

    @Test("a flagger.app Canary takes Flagger's defaults where they differ from Serin's: threshold 1, no metrics list checks no metric, a check with no values fails; an interval below Flagger's 10s floor is warned of; a serin.dev one keeps Serin's")
    func flaggerDefaults() throws {
        let flagger = Self.minimal.replacingOccurrences(of: "serin.dev/v1alpha1", with: "flagger.app/v1beta1")
        let (flaggerSpec, flaggerMessages) = decodeCanary(flagger)
        #expect(flaggerMessages.isEmpty, "\(flaggerMessages)")
        let flaggerAnalysis = try #require(flaggerSpec).analysis
        #expect(flaggerAnalysis.threshold == 1 && flaggerAnalysis.metrics.isEmpty && flaggerAnalysis.noValuesFail)
        let serin = try #require(decodeCanary(Self.minimal).spec).analysis
        #expect(serin.threshold == 5 && serin.metrics == MetricCheck.builtInDefaults && !serin.noValuesFail)

        let (fast, warned) = decodeCanary(flagger.replacingOccurrences(of: "interval: 30s", with: "interval: 5s"))
        #expect(try #require(fast).analysis.interval == .seconds(5))
        #expect(warned == [
            "test.yaml:9:15: warning: spec.analysis.interval is 5s: Serin checks that often, where Flagger would raise it to 10s, "
                + "so each step here takes less traffic than under Flagger",
        ])
        #expect(decodeCanary(Self.minimal.replacingOccurrences(of: "interval: 30s", with: "interval: 5s")).messages.isEmpty)
    }

    @Test("decodes every field of a full Canary")
    func fullCanary() throws {
        let yaml = """
            apiVersion: serin.dev/v1alpha1
            kind: Canary
            metadata:
              name: web
              namespace: shop
            spec:
              targetRef:
                apiVersion: networking.istio.io/v1beta1
                kind: VirtualService
                name: web-virtualservice
              stable: {host: web-v1-service, subset: v1, port: 80}
              canary: {host: web-v2-service, port: 80}
              progressDeadlineSeconds: 120
              skipAnalysis: true
              analysis:
                interval: 30s
                threshold: 3
                stepWeight: 10
                maxWeight: 50
                metrics:
                - name: request-success-rate
                  thresholdRange: {min: 99.5}
                  interval: 1m
                  minRequests: 20
                - name: request-duration
                  thresholdRange: {max: 500}
                  interval: 1m30s
                webhooks:
                - name: load-test
                  type: rollout
                  url: http://127.0.0.1:8081/hook
                  timeout: 500ms
                  metadata: {cmd: "hey -z 1m http://web/"}
                - name: gate
                  type: confirm-promotion
                  url: http://127.0.0.1:8081/gate
            """
        let (spec, messages) = decodeCanary(yaml)
        #expect(messages.isEmpty, "\(messages)")
        let analysis = AnalysisSpec(
            interval: .seconds(30), threshold: 3, schedule: try WeightSchedule(stepWeight: 10, maxWeight: 50),
            metrics: [
                .requestSuccessRate(min: 99.5, interval: .seconds(60), minRequests: 20),
                .requestDuration(maxMilliseconds: 500, interval: .seconds(90)),
            ],
            webhooks: [
                WebhookSpec(
                    name: "load-test", type: .rollout, url: "http://127.0.0.1:8081/hook", timeout: .milliseconds(500),
                    metadata: ["cmd": "hey -z 1m http://web/"]
                ),
                WebhookSpec(name: "gate", type: .confirmPromotion, url: "http://127.0.0.1:8081/gate"),
            ],
            // progressDeadlineSeconds 120, plus the 30s interval.
            progressDeadline: .seconds(150)
        )
        let expected = CanarySpec(
            name: ResourceName(namespace: "shop", name: "web"),
            targetRef: ResourceName(namespace: "shop", name: "web-virtualservice"),
            stable: Destination(host: "web-v1-service", subset: "v1", port: 80),
            canary: Destination(host: "web-v2-service", port: 80), analysis: analysis, skipAnalysis: true
        )
        #expect(spec == expected)
    }

    @Test("stepWeights beside maxWeight wins, as in Flagger, the ignored field said in a warning; beside stepWeight it is an error, as Flagger would step by stepWeight instead")
    func stepWeightsBesideTheLinearFields() {
        let listed = Self.minimal.replacingOccurrences(of: "stepWeight: 10\n    maxWeight: 50", with: "maxWeight: 50\n    stepWeights: [5, 10]")
        let (spec, messages) = decodeCanary(listed)
        #expect(spec?.analysis.schedule.weights == [5, 10])
        #expect(messages == [
            "test.yaml:10:16: warning: spec.analysis.maxWeight is ignored beside spec.analysis.stepWeights, as Flagger ignores it: the list's last step is the highest",
        ], "\(messages)")
        let (_, both) = decodeCanary(Self.minimal.replacingOccurrences(of: "maxWeight: 50", with: "maxWeight: 50\n    stepWeights: [5, 10]"))
        #expect(both.contains(
            "test.yaml:10:17: error: spec.analysis.stepWeight beside spec.analysis.stepWeights: write one of them (Flagger would step by stepWeight up to the list's last weight and pass over the rest of the list)"
        ), "\(both)")
    }

    @Test("Flagger's deprecated metric threshold is read as thresholdRange, a floor for the success rate and a ceiling otherwise, with a warning; thresholdRange wins beside it")
    func deprecatedMetricThreshold() throws {
        let metrics = """
                metrics:
                - {name: request-success-rate, threshold: 95}
                - {name: request-duration, threshold: 300}
            """
        let (spec, messages) = decodeCanary(Self.minimal + "\n" + metrics)
        let checks = try #require(spec?.analysis.metrics, "\(messages)")
        #expect(checks.map(\.thresholdRange) == [ThresholdRange(min: 95), ThresholdRange(max: 300)])
        let (both, bothMessages) = decodeCanary(Self.minimal + "\n" + metrics.replacingOccurrences(of: "threshold: 300}", with: "threshold: 300, thresholdRange: {max: 200}}"))
        #expect(both?.analysis.metrics.map(\.thresholdRange) == [ThresholdRange(min: 95), ThresholdRange(max: 200)])
        #expect(messages.contains(
            "test.yaml:13:47: warning: metric request-success-rate: spec.analysis.metrics[0].threshold is Flagger's deprecated field, read as thresholdRange: {min: 95}"
        ), "\(messages)")
        #expect(bothMessages.contains { $0.contains("metrics[1].threshold is Flagger's deprecated field, read as thresholdRange: {max: 300}, which thresholdRange replaces here") }, "\(bothMessages)")
    }

    @Test("Flagger's deprecated inline query is an error that says where it goes now; a thresholdRange bound that is not a number is one error at its line")
    func deprecatedQueryAndUnreadBound() {
        let query = Self.minimal + "\n    metrics:\n    - {name: not-found, query: \"sum(rate(x[1m]))\", threshold: 5}"
        let (_, queried) = decodeCanary(query)
        #expect(queried.contains { $0.contains("error: metric not-found: spec.analysis.metrics[0].query is Flagger's deprecated inline query: write it in a MetricTemplate") }, "\(queried)")
        let unread = Self.minimal + "\n    metrics:\n    - {name: request-duration, thresholdRange: {max: 500ms}}"
        let (_, bound) = decodeCanary(unread)
        #expect(bound.filter { $0.contains("error") }.count == 1, "\(bound)")
        #expect(bound.contains { $0.contains("spec.analysis.metrics[0].thresholdRange.max: expected a number") }, "\(bound)")
    }

    @Test("Flagger's readiness thresholds on a Canary of a VirtualService are warned of as not applied, canaryReadyThreshold only without a canaryDeployment")
    func readyThresholdsOnAVirtualService() {
        let thresholds = Self.minimal + "\n    primaryReadyThreshold: 100\n    canaryReadyThreshold: 90"
        let (spec, messages) = decodeCanary(thresholds)
        #expect(spec != nil)
        #expect(messages == [
            "test.yaml:12:28: warning: spec.analysis.primaryReadyThreshold is not applied: it is the primary Deployment's, which only a targetRef of kind Deployment has",
            "test.yaml:13:27: warning: spec.analysis.canaryReadyThreshold is not applied: this Canary names no canaryDeployment whose readiness it waits for",
        ], "\(messages)")
        let withDeployment = thresholds.replacingOccurrences(of: "  analysis:", with: "  canaryDeployment: web-v2\n  analysis:")
        let (_, named) = decodeCanary(withDeployment)
        #expect(named.count == 1 && named.first?.contains("primaryReadyThreshold is not applied") == true, "\(named)")
    }

    @Test("stepWeight without maxWeight, or with Flagger's default written out (maxWeight: 100), climbs by its steps below 100%, then promotes")
    func stepWeightAlone() throws {
        for (step, weights) in [(10, [10, 20, 30, 40, 50, 60, 70, 80, 90]), (30, [30, 60, 90]), (50, [50])] {
            for maxWeight in ["", "\n    maxWeight: 100"] {
                let yaml = Self.minimal.replacingOccurrences(of: "stepWeight: 10\n    maxWeight: 50", with: "stepWeight: \(step)\(maxWeight)")
                let (spec, messages) = decodeCanary(yaml)
                #expect(messages.isEmpty, "\(messages)")
                #expect(spec?.analysis.schedule.weights == weights, "\(step)\(maxWeight)")
            }
        }
    }

    @Test("Flagger's revertOnDeletion is read, true or false, in Serin's group and in Flagger's; a value that is not a boolean is an error at its line")
    func revertOnDeletionIsRead() throws {
        for canary in [Self.minimal, Self.flaggerCanary] {
            for value in [true, false] {
                let yaml = canary.replacingOccurrences(of: "  analysis:", with: "  revertOnDeletion: \(value)\n  analysis:")
                #expect(decodeCanary(yaml).messages.isEmpty, "\(decodeCanary(yaml).messages)")
            }
        }
        let yaml = Self.minimal.replacingOccurrences(of: "  analysis:", with: "  revertOnDeletion: always\n  analysis:")
        #expect(decodeCanary(yaml).messages == ["test.yaml:8:21: error: spec.revertOnDeletion: expected a boolean, got string \"always\""],
                "\(decodeCanary(yaml).messages)")
    }

    @Test("spec.suspend is read into the spec, in Serin's group and in Flagger's; left out it is false", arguments: [true, false])
    func suspendIsRead(suspend: Bool) throws {
        for canary in [Self.minimal, Self.flaggerCanary] {
            let yaml = canary.replacingOccurrences(of: "  analysis:", with: "  suspend: \(suspend)\n  analysis:")
            let (spec, messages) = decodeCanary(yaml)
            #expect(messages.isEmpty, "\(messages)")
            #expect(spec?.suspend == suspend)
            #expect(decodeCanary(canary).spec?.suspend == false)
        }
    }

    @Test("a spec.suspend that is not a boolean is an error at its line and column")
    func suspendMustBeABoolean() {
        let yaml = Self.minimal.replacingOccurrences(of: "  analysis:", with: "  suspend: sometimes\n  analysis:")
        let (spec, messages) = decodeCanary(yaml)
        #expect(spec == nil)
        #expect(messages == ["test.yaml:8:12: error: spec.suspend: expected a boolean, got string \"sometimes\""], "\(messages)")
    }

    @Test("Flagger's v1alpha3 canaryAnalysis is said to be the old name of analysis")
    func oldAnalysisName() {
        let yaml = Self.minimal.replacingOccurrences(of: "  analysis:", with: "  canaryAnalysis:")
        #expect(decodeCanary(yaml).messages.contains {
            $0.contains("error: spec.canaryAnalysis is not supported by Serin yet: it is Flagger's v1alpha3 name for analysis; write it as analysis")
        }, "\(decodeCanary(yaml).messages)")
    }

    @Test("reads an explicit stepWeights list")
    func stepWeights() throws {
        let yaml = Self.minimal.replacingOccurrences(of: "stepWeight: 10\n    maxWeight: 50", with: "stepWeights: [5, 10, 25, 50]")
        let (spec, messages) = decodeCanary(yaml)
        #expect(messages.isEmpty, "\(messages)")
        #expect(spec?.analysis.schedule == (try WeightSchedule(stepWeights: [5, 10, 25, 50])))
        #expect(spec?.analysis.schedule.weights == [5, 10, 25, 50])
    }

    @Test("reads Flagger's blue/green iterations: every step at canary weight 0, one per passing analysis")
    func blueGreenIterations() throws {
        let yaml = Self.flaggerCanary.replacingOccurrences(of: "    maxWeight: 50\n    stepWeight: 10\n", with: "    iterations: 10\n")
        let (spec, messages) = decodeCanary(yaml)
        #expect(messages.isEmpty, "\(messages)")
        let schedule = try #require(spec?.analysis.schedule)
        #expect(schedule == (try WeightSchedule(iterations: 10)))
        #expect(schedule.isBlueGreen)
        #expect(schedule.weights == Array(repeating: 0, count: 10))
    }

    @Test("reads Flagger's stepWeightPromotion: promotion by that many percent per interval; none written is all at once")
    func stepWeightPromotion() throws {
        let yaml = Self.flaggerCanary.replacingOccurrences(of: "    stepWeight: 10\n", with: "    stepWeight: 10\n    stepWeightPromotion: 25\n")
        let (spec, messages) = decodeCanary(yaml)
        #expect(messages.isEmpty, "\(messages)")
        #expect(spec?.analysis.stepWeightPromotion == 25)
        #expect(decodeCanary(Self.flaggerCanary).0?.analysis.stepWeightPromotion == nil)
    }

    @Test("reads Flagger's A/B testing: iterations with match, in the VirtualService match vocabulary")
    func abTesting() throws {
        let yaml = Self.flaggerCanary.replacingOccurrences(of: "    maxWeight: 50\n    stepWeight: 10\n", with: """
                iterations: 10
                match:
                - headers:
                    x-canary: {exact: "insider"}
                - headers:
                    cookie: {regex: "^(.*?;)?(canary=always)(;.*)?$"}
                - queryParams:
                    variant: {exact: b}
                  uri: {prefix: /shop}

            """)
        let (spec, messages) = decodeCanary(yaml)
        #expect(messages.isEmpty, "\(messages)")
        let analysis = try #require(spec?.analysis)
        #expect(analysis.schedule == (try WeightSchedule(iterations: 10)))
        #expect(analysis.match == [
            RequestMatch(headers: ["x-canary": .exact("insider")]),
            RequestMatch(headers: ["cookie": .regex(try RegexPattern("^(.*?;)?(canary=always)(;.*)?$"))]),
            RequestMatch(uri: .prefix("/shop"), queryParams: ["variant": .exact("b")]),
        ])
    }

    @Test("reads Flagger's blue/green with mirroring: iterations with mirror and mirrorWeight, every request when no weight is written")
    func blueGreenMirroring() throws {
        let weighted = Self.flaggerCanary.replacingOccurrences(
            of: "    maxWeight: 50\n    stepWeight: 10\n", with: "    iterations: 10\n    mirror: true\n    mirrorWeight: 40\n")
        let (spec, messages) = decodeCanary(weighted)
        #expect(messages.isEmpty, "\(messages)")
        #expect(spec?.analysis.mirror == Percent(40))
        #expect(spec?.analysis.schedule == (try WeightSchedule(iterations: 10)))
        let every = decodeCanary(Self.flaggerCanary.replacingOccurrences(of: "    maxWeight: 50\n    stepWeight: 10\n", with: "    iterations: 10\n    mirror: true\n"))
        #expect(every.0?.analysis.mirror == .all)
        let off = decodeCanary(Self.flaggerCanary.replacingOccurrences(of: "    maxWeight: 50\n    stepWeight: 10\n", with: "    iterations: 10\n    mirror: false\n"))
        #expect(off.1.isEmpty && off.0?.analysis.mirror == nil)
    }

    @Test("reads Flagger's mirroring before weight steps: mirror beside stepWeight or stepWeights is a first step at weight 0, then the weights")
    func mirroringBeforeWeightSteps() throws {
        let linear = Self.flaggerCanary.replacingOccurrences(of: "    stepWeight: 10\n", with: "    stepWeight: 10\n    mirror: true\n    mirrorWeight: 50\n")
        let (spec, messages) = decodeCanary(linear)
        #expect(messages.isEmpty, "\(messages)")
        let analysis = try #require(spec?.analysis)
        #expect(analysis.mirror == Percent(50) && analysis.schedule.mirrorsFirst && !analysis.schedule.isBlueGreen)
        #expect(analysis.schedule.weights == [0, 10, 20, 30, 40, 50])
        #expect(analysis.schedule == (try WeightSchedule(mirroringFirst: WeightSchedule(stepWeight: 10, maxWeight: 50))))
        let listed = decodeCanary(Self.flaggerCanary.replacingOccurrences(of: "    maxWeight: 50\n    stepWeight: 10\n", with: "    stepWeights: [5, 25]\n    mirror: true\n"))
        #expect(listed.1.isEmpty && listed.0?.analysis.schedule.weights == [0, 5, 25] && listed.0?.analysis.mirror == .all)
        // Stored and read back as written: the mirrored step is part of the schedule's source.
        let stored = try JSONEncoder().encode(analysis.schedule)
        #expect(try JSONDecoder().decode(WeightSchedule.self, from: stored) == analysis.schedule)
        #expect(throws: WeightScheduleError.mirrorBeforeNoWeights) { try WeightSchedule(mirroringFirst: WeightSchedule(iterations: 3)) }
        // A refused stepWeight is said once, at itself: mirror, written right, is not blamed for it.
        let refused = decodeCanary(Self.flaggerCanary.replacingOccurrences(of: "    stepWeight: 10\n", with: "    stepWeight: 0\n    mirror: true\n"))
        #expect(refused.0 == nil)
        #expect(refused.1.count == 1 && refused.1.first?.contains("spec.analysis.stepWeight is 0, expected 1 to 99") == true, "\(refused.1)")
    }

    @Test("takes Core's defaults for every field left out")
    func defaults() throws {
        let yaml = """
            apiVersion: serin.dev/v1alpha1
            kind: Canary
            metadata: {name: web}
            spec:
              targetRef: {name: web-virtualservice}
              stable: {host: web-v1-service}
              canary: {host: web-v2-service}
              analysis:
                stepWeight: 20
                maxWeight: 60
            """
        let (spec, messages) = decodeCanary(yaml)
        #expect(messages.isEmpty, "\(messages)")
        let expected = CanarySpec(
            name: ResourceName(name: "web"), targetRef: ResourceName(name: "web-virtualservice"),
            stable: Destination(host: "web-v1-service"), canary: Destination(host: "web-v2-service"),
            // The deadline is Flagger's default, 600 s, plus the 60 s interval.
            analysis: AnalysisSpec(schedule: try WeightSchedule(stepWeight: 20, maxWeight: 60), progressDeadline: .seconds(660))
        )
        #expect(spec == expected)
        #expect(spec?.analysis.metrics == MetricCheck.builtInDefaults)
        #expect(spec?.skipAnalysis == false)
    }

    @Test("a metric or webhook written in part keeps the defaults of the rest")
    func partialDefaults() {
        let yaml = Self.minimal + """

                metrics:
                - name: request-duration
                  minRequests: 5
                - name: request-success-rate
                  thresholdRange: {min: 95}
                webhooks:
                - name: notify
                  url: http://127.0.0.1:9000/
            """
        let (spec, messages) = decodeCanary(yaml)
        #expect(messages.isEmpty, "\(messages)")
        #expect(spec?.analysis.metrics == [.requestDuration(maxMilliseconds: 500, minRequests: 5), .requestSuccessRate(min: 95)])
        // Flagger calls a webhook without a type a rollout hook.
        #expect(spec?.analysis.webhooks == [WebhookSpec(name: "notify", type: .rollout, url: "http://127.0.0.1:9000/")])
    }

    @Test("an empty metrics list means no metric checks, not the defaults")
    func emptyMetrics() {
        let (spec, messages) = decodeCanary(Self.minimal + "\n    metrics: []")
        #expect(messages.isEmpty, "\(messages)")
        #expect(spec?.analysis.metrics == [])
    }

    @Test(
        "reads durations in every unit Flagger writes",
        arguments: [
            ("500ms", Duration.milliseconds(500)), ("30s", .seconds(30)), ("1m", .seconds(60)), ("1h", .seconds(3600)),
            ("1m30s", .seconds(90)), ("1h0m5s", .seconds(3605)),
        ]
    )
    func durations(text: String, duration: Duration) {
        // A deadline long enough for the longest interval, so only the duration itself is under test.
        let yaml = Self.minimal.replacingOccurrences(of: "interval: 30s", with: "interval: \(text)")
            .replacingOccurrences(of: "  analysis:", with: "  progressDeadline: 100h\n  analysis:")
        let (spec, messages) = decodeCanary(yaml)
        #expect(messages.isEmpty, "\(messages)")
        #expect(spec?.analysis.interval == duration)
    }

    @Test("rejects what is not a whole number with a unit", arguments: ["soon", "1.5m", "m", "30 s", "-1s", "1d", "\"\""])
    func badDurations(text: String) {
        let (spec, messages) = decodeCanary(Self.minimal.replacingOccurrences(of: "interval: 30s", with: "interval: \(text)"))
        let got = text.hasPrefix("\"") ? text : "\"\(text)\""
        #expect(messages == ["test.yaml:9:15: error: spec.analysis.interval: expected a duration like 30s or 1m, got \(got)"])
        #expect(spec == nil)
    }

    @Test("accepts progressDeadline as a duration beside Flagger's progressDeadlineSeconds, counted as written")
    func progressDeadline() {
        let yaml = Self.minimal.replacingOccurrences(of: "  analysis:", with: "  progressDeadline: 2m\n  analysis:")
        let (spec, messages) = decodeCanary(yaml)
        #expect(messages.isEmpty, "\(messages)")
        #expect(spec?.analysis.progressDeadline == .seconds(120))
    }

    @Test(
        "Flagger's progressDeadlineSeconds, written or at its default of 600, gains one analysis interval on any target, so a Flagger Canary's 60 with a 1m interval is accepted",
        arguments: [("  progressDeadlineSeconds: 60\n", "interval: 1m", 120), ("", "interval: 1m", 660), ("", "interval: 2h", 7800)]
    )
    func flaggerProgressDeadline(written: String, interval: String, seconds: Int) {
        let yaml = Self.minimal.replacingOccurrences(of: "  analysis:", with: "\(written)  analysis:")
            .replacingOccurrences(of: "interval: 30s", with: interval)
        let (spec, messages) = decodeCanary(yaml)
        #expect(messages.isEmpty, "\(messages)")
        #expect(spec?.analysis.progressDeadline == .seconds(seconds))
    }

    @Test("judge: statistical with its settings, each omitted one at its default, and a 5s look interval unless one is written")
    func statisticalJudge() throws {
        let statistical = Self.minimal.replacingOccurrences(
            of: "    interval: 30s\n",
            with: "    judge: statistical\n    statistical:\n      confidence: 99.9\n      errorRateIncrease: 0.2\n      maxStepDuration: 15m\n")
        let (spec, messages) = decodeCanary(statistical)
        #expect(messages.isEmpty, "\(messages)")
        let analysis = try #require(spec?.analysis)
        #expect(analysis.judge == JudgeSettings(
            kind: .statistical, confidence: 99.9, errorRateIncrease: 0.2, latencyIncrease: 20, minStepDuration: .seconds(10),
            maxStepDuration: .seconds(900)))
        #expect(analysis.interval == .seconds(5))
        let written = decodeCanary(Self.minimal.replacingOccurrences(of: "    interval: 30s\n", with: "    interval: 30s\n    judge: statistical\n"))
        #expect(written.spec?.analysis.interval == .seconds(30))
        #expect(decodeCanary(Self.minimal).spec?.analysis.judge == .threshold)
    }

    @Test("a judge Serin does not have, settings for a judge not chosen, and settings out of range are refused at their field", arguments: [
        ("    judge: bayesian\n", "test.yaml:10:12: error: spec.analysis.judge is bayesian, expected threshold, statistical or mannWhitney"),
        ("    statistical: {confidence: 95}\n",
         "test.yaml:10:18: error: spec.analysis.statistical is set but spec.analysis.judge is threshold: set judge: statistical, or remove it"),
        ("    judge: statistical\n    statistical: {confidence: 100}\n",
         "test.yaml:11:31: error: spec.analysis.statistical.confidence is 100, expected a percentage from 50 up to (not including) 100, like 99"),
        ("    judge: statistical\n    statistical: {errorRateIncrease: -1}\n",
         "test.yaml:11:38: error: spec.analysis.statistical.errorRateIncrease is -1, expected percentage points from 0 to 100, like 1"),
        ("    judge: statistical\n    statistical: {minStepDuration: 1m, maxStepDuration: 30s}\n",
         "test.yaml:11:57: error: spec.analysis.statistical.maxStepDuration is 30s, expected more than minStepDuration 1m and at least analysis.interval 30s"),
        ("    judge: statistical\n    statistical: {minStepDuration: soon}\n",
         "test.yaml:11:36: error: spec.analysis.statistical.minStepDuration: expected a duration like 30s or 1m, got \"soon\""),
    ])
    func badJudgeSettings(lines: String, expected: String) {
        let yaml = Self.minimal.replacingOccurrences(of: "    interval: 30s\n", with: "    interval: 30s\n" + lines)
        let (spec, messages) = decodeCanary(yaml)
        #expect(spec == nil)
        #expect(messages == [expected])
    }

    @Test("a statistical judge refused for a setting still looks every 5 s by default: a 30 s progressDeadline draws no second error")
    func refusedJudgeKeepsItsInterval() {
        let yaml = Self.minimal.replacingOccurrences(of: "    interval: 30s\n", with: "    judge: statistical\n    statistical: {confidence: high}\n")
            .replacingOccurrences(of: "  analysis:", with: "  progressDeadline: 30s\n  analysis:")
        let (spec, messages) = decodeCanary(yaml)
        #expect(spec == nil)
        #expect(messages.count == 1 && messages.first?.contains("spec.analysis.statistical.confidence") == true, "\(messages)")
    }

    @Test("stickiness: a header name (kept lower-cased) or a cookie name (kept as written); none written is none")
    func stickiness() {
        func decoded(_ line: String) -> (spec: CanarySpec?, messages: [String]) {
            decodeCanary(Self.minimal.replacingOccurrences(of: "    interval: 30s\n", with: "    interval: 30s\n" + line))
        }
        let header = decoded("    stickiness: {header: X-User-Id}\n")
        #expect(header.messages.isEmpty, "\(header.messages)")
        #expect(header.spec?.analysis.stickiness == .header("x-user-id"))
        let cookie = decoded("    stickiness:\n      cookie: Session\n")
        #expect(cookie.messages.isEmpty, "\(cookie.messages)")
        #expect(cookie.spec?.analysis.stickiness == .cookie("Session"))
        #expect(decodeCanary(Self.minimal).spec?.analysis.stickiness == nil)
    }

    @Test("stickiness with both keys, neither, or a name that is no HTTP token is refused at its field", arguments: [
        ("    stickiness: {header: x-user-id, cookie: session}\n",
         "test.yaml:10:17: error: spec.analysis.stickiness: expected header or cookie (one request key to stick on), got both"),
        ("    stickiness: {}\n",
         "test.yaml:10:17: error: spec.analysis.stickiness: expected header or cookie (one request key to stick on), got neither"),
        ("    stickiness: {header: \"user id\"}\n",
         "test.yaml:10:26: error: spec.analysis.stickiness.header is \"user id\", expected a header name (letters, digits and -._~!#$%&'*+^`|)"),
        ("    stickiness: {cookie: 42}\n",
         "test.yaml:10:26: error: spec.analysis.stickiness.cookie: expected a string, got integer 42"),
    ])
    func badStickiness(line: String, expected: String) {
        let (spec, messages) = decodeCanary(Self.minimal.replacingOccurrences(of: "    interval: 30s\n", with: "    interval: 30s\n" + line))
        #expect(spec == nil)
        #expect(messages == [expected])
    }

    @Test("reads paced stepWeights: a weight, or a weight with a pause of a duration or promote")
    func pacedStepWeights() throws {
        let yaml = Self.minimal.replacingOccurrences(
            of: "stepWeight: 10\n    maxWeight: 50", with: "stepWeights: [10, {weight: 25, pause: 10m}, {weight: 50, pause: promote}]")
        let (spec, messages) = decodeCanary(yaml)
        #expect(messages.isEmpty, "\(messages)")
        let schedule = try #require(spec?.analysis.schedule)
        #expect(schedule.weights == [10, 25, 50])
        #expect(schedule.pauses == [nil, .duration(.seconds(600)), .promote])
    }

    @Test(
        "a paced step's mistake is reported at its field with expected and got",
        arguments: [
            (
                "stepWeights: [10, {weight: 30, pause: soon}]",
                "test.yaml:10:43: error: spec.analysis.stepWeights[1].pause: expected a duration like 10m or \"promote\", got \"soon\""
            ),
            (
                "stepWeights: [10, {weight: 30, pause: 10}]",
                "test.yaml:10:43: error: spec.analysis.stepWeights[1].pause: expected a duration like 10m or \"promote\", got integer 10"
            ),
            (
                "stepWeights: [10, {weight: 30, pause: 0s}]",
                "test.yaml:10:43: error: spec.analysis.stepWeights[1].pause: expected a duration like 10m or \"promote\", got \"0s\""
            ),
            ("stepWeights: [10, {pause: 1m}]", "test.yaml:10:23: error: spec.analysis.stepWeights[1].weight is required"),
            (
                "stepWeights: [10, {weight: 5, pause: 1m}]",
                "test.yaml:10:23: error: spec.analysis.stepWeights[1] is 5, expected more than 10 (weights must ascend)"
            ),
            (
                "stepWeights: [10, [30]]",
                "test.yaml:10:23: error: spec.analysis.stepWeights[1]: expected an integer, got a list"
            ),
            // A slip in a pause's name is an error, not a warning: the hold would be dropped without a word.
            (
                "stepWeights: [10, {weight: 25, paus: 10s}]",
                "test.yaml:10:36: error: unknown field spec.analysis.stepWeights[1].paus (did you mean pause?)"
            ),
        ]
    )
    func pacedStepErrors(replacement: String, message: String) {
        let yaml = Self.minimal.replacingOccurrences(of: "stepWeight: 10\n    maxWeight: 50", with: replacement)
        let (spec, messages) = decodeCanary(yaml)
        #expect(messages == [message])
        #expect(spec == nil)
    }

    @Test("a targetRef written as namespace/name points into that namespace")
    func qualifiedTarget() {
        let yaml = Self.minimal.replacingOccurrences(of: "{name: web-virtualservice}", with: "{name: edge/web-virtualservice}")
        let (spec, _) = decodeCanary(yaml)
        #expect(spec?.targetRef == ResourceName(namespace: "edge", name: "web-virtualservice"))
    }

    @Test(
        "reports each mistake at its field with expected and got, and produces no resource",
        arguments: [
            (
                "interval: 30s", "interval: soon",
                "test.yaml:9:15: error: spec.analysis.interval: expected a duration like 30s or 1m, got \"soon\""
            ),
            (
                "    stepWeight: 10\n    maxWeight: 50", "    iterations: 0",
                "test.yaml:10:17: error: spec.analysis.iterations is 0, expected at least 1"
            ),
            (
                "interval: 30s", "interval: 30",
                "test.yaml:9:15: error: spec.analysis.interval: expected a duration like 30s or 1m, got integer 30"
            ),
            (
                "    stepWeight: 10\n    maxWeight: 50", "    threshold: 2",
                "test.yaml:9:5: error: spec.analysis: expected stepWeight (with maxWeight, 100 when left out, as in Flagger), stepWeights, or iterations (blue/green), got none of them"
            ),
            (
                "    stepWeight: 10\n", "",
                "test.yaml:9:5: error: spec.analysis: expected stepWeight (with maxWeight, 100 when left out, as in Flagger), stepWeights, or iterations (blue/green), got maxWeight alone"
            ),
            (
                "maxWeight: 50", "maxWeight: 101",
                "test.yaml:11:16: error: spec.analysis.maxWeight is 101, expected 1 to 100 (100, Flagger's default: steps below 100%, then promotion sends 100%)"
            ),
            (
                "stepWeight: 10\n    maxWeight: 50", "stepWeights: [10, 30, 20]",
                "test.yaml:10:27: error: spec.analysis.stepWeights[2] is 20, expected more than 30 (weights must ascend)"
            ),
            (
                "maxWeight: 50", "maxWeight: 50\n    metrics:\n    - name: error-rate",
                "test.yaml:13:13: error: metric error-rate: custom metrics need a MetricTemplate (templateRef); "
                    + "the built-in metrics are request-success-rate or request-duration"
            ),
            (
                "maxWeight: 50", "maxWeight: 50\n    webhooks:\n    - {name: gate, type: confirm, url: http://x/}",
                "test.yaml:13:26: error: spec.analysis.webhooks[0].type: expected one of confirm-rollout, pre-rollout, "
                    + "rollout, confirm-traffic-increase, confirm-promotion, post-rollout, rollback, event, got \"confirm\""
            ),
            (
                "maxWeight: 50", "maxWeight: 50\n    webhooks:\n    - {name: gate, url: not a url}",
                "test.yaml:13:25: error: spec.analysis.webhooks[0].url: expected an address like http://host[:port][/path], got \"not a url\""
            ),
            (
                "maxWeight: 50", "maxWeight: 50\n    webhooks:\n    - {name: gate, url: http://x/, timeout: 5}",
                "test.yaml:13:45: error: spec.analysis.webhooks[0].timeout: expected a duration like 30s or 1m, got integer 5"
            ),
            (
                "{name: web-virtualservice}", "{kind: StatefulSet, name: web}",
                "test.yaml:5:21: error: spec.targetRef.kind: expected VirtualService (Serin drives its routes' weights) or "
                    + "Deployment (Serin creates the primary, Services and VirtualService), got \"StatefulSet\""
            ),
            (
                "{name: web-virtualservice}", "{apiVersion: apps/v1, name: web}",
                "test.yaml:5:27: error: spec.targetRef.apiVersion: expected one of networking.istio.io/v1alpha3, "
                    + "networking.istio.io/v1beta1, networking.istio.io/v1, got \"apps/v1\""
            ),
            ("{host: web-v1-service, port: 80}", "{port: 80}", "test.yaml:6:11: error: spec.stable.host is required"),
            ("{host: web-v2-service, port: 80}", "{port: 80}", "test.yaml:7:11: error: spec.canary.host is required"),
            ("  canary: {host: web-v2-service, port: 80}\n", "", "test.yaml:5:3: error: spec.canary is required"),
            (
                "{host: web-v2-service, port: 80}", "{host: web-v2-service, port: 0}",
                "test.yaml:7:40: error: spec.canary.port: expected a port from 1 to 65535, got 0"
            ),
            (
                "  analysis:", "  progressDeadlineSeconds: 60\n  progressDeadline: 1m\n  analysis:",
                "test.yaml:9:21: error: spec.progressDeadline cannot be combined with progressDeadlineSeconds: set one of them"
            ),
            (
                "  analysis:", "  progressDeadlineSeconds: -5\n  analysis:",
                "test.yaml:8:28: error: spec.progressDeadlineSeconds is -5, expected a number of seconds above 0 (Flagger's default is 600)"
            ),
        ]
    )
    func decodingErrors(original: String, replacement: String, message: String) {
        let yaml = Self.minimal.replacingOccurrences(of: original, with: replacement)
        #expect(yaml != Self.minimal)
        let (spec, messages) = decodeCanary(yaml)
        #expect(messages == [message])
        #expect(spec == nil)
    }

    @Test("one pass says every mistake: a metric-name typo does not hide a threshold of 0 or a canary that is the stable, and a field wrong twice is said once")
    func everyMistakeAtOnce() {
        let yaml = Self.minimal
            .replacingOccurrences(of: "maxWeight: 50", with: "maxWeight: 50\n    threshold: 0\n    metrics:\n    - name: request-sucess-rate")
            .replacingOccurrences(of: "{host: web-v2-service, port: 80}", with: "{host: web-v1-service, port: 80}")
        let (spec, messages) = decodeCanary(yaml)
        #expect(spec == nil)
        #expect(messages == [
            "test.yaml:14:13: error: metric request-sucess-rate: custom metrics need a MetricTemplate (templateRef); "
                + "the built-in metrics are request-success-rate or request-duration",
            "test.yaml:7:11: error: spec.canary is web-v1-service:80, expected a destination other than stable",
            "test.yaml:12:16: error: spec.analysis.threshold is 0, expected at least 1",
        ], "\(messages)")
        let twice = Self.minimal.replacingOccurrences(of: "interval: 30s", with: "interval: soon\n    threshold: 0")
        #expect(decodeCanary(twice).messages == [
            "test.yaml:9:15: error: spec.analysis.interval: expected a duration like 30s or 1m, got \"soon\"",
            "test.yaml:10:16: error: spec.analysis.threshold is 0, expected at least 1",
        ])
    }

    @Test("a refused weight schedule does not hide the Canary's other problems: the stepWeight and the threshold, the maxWeight and a metric's range, an iterations count and a mirrorWeight")
    func refusedScheduleHidesNothing() {
        let stepAndThreshold = Self.minimal.replacingOccurrences(of: "stepWeight: 10", with: "stepWeight: 250\n    threshold: -3")
        #expect(decodeCanary(stepAndThreshold).messages == [
            "test.yaml:10:17: error: spec.analysis.stepWeight is 250, expected 1 to 99",
            "test.yaml:11:16: error: spec.analysis.threshold is -3, expected at least 1",
        ])
        let maxAndRange = Self.minimal.replacingOccurrences(
            of: "maxWeight: 50", with: "maxWeight: 180\n    metrics:\n    - name: request-success-rate\n      thresholdRange: {min: 199}")
        let (spec, messages) = decodeCanary(maxAndRange)
        #expect(spec == nil)
        #expect(messages == [
            "test.yaml:11:16: error: spec.analysis.maxWeight is 180, expected 1 to 100 (100, Flagger's default: steps below 100%, then promotion sends 100%)",
            "test.yaml:14:29: error: spec.analysis.metrics[0].thresholdRange.min is 199, expected a percentage from 0 to 100",
        ], "\(messages)")
        // Blue/green stands in for refused iterations: the mirror is checked as blue/green's, not refused for a kind it is not.
        let iterations = Self.minimal.replacingOccurrences(of: "stepWeight: 10\n    maxWeight: 50", with: "iterations: 0\n    mirror: true\n    mirrorWeight: 0")
        #expect(decodeCanary(iterations).messages == [
            "test.yaml:10:17: error: spec.analysis.iterations is 0, expected at least 1",
            "test.yaml:12:19: error: spec.analysis.mirrorWeight is 0, expected a percentage of requests from 1 to 100",
        ])
    }

    @Test(
        "reports Core's spec problems at the field they name, and produces no resource",
        arguments: [
            (
                "maxWeight: 50", "maxWeight: 50\n    threshold: 0",
                "test.yaml:12:16: error: spec.analysis.threshold is 0, expected at least 1"
            ),
            (
                "maxWeight: 50", "maxWeight: 50\n    stepWeightPromotion: 0",
                "test.yaml:12:26: error: spec.analysis.stepWeightPromotion is 0, expected a percentage from 1 to 100"
            ),
            (
                "  analysis:", "  progressDeadline: 20s\n  analysis:",
                "test.yaml:8:21: error: spec.progressDeadline is 20s, expected more than analysis.interval 30s"
            ),
            (
                "{host: web-v2-service, port: 80}", "{host: web-v1-service, port: 80}",
                "test.yaml:7:11: error: spec.canary is web-v1-service:80, expected a destination other than stable"
            ),
            (
                "maxWeight: 50", "maxWeight: 50\n    metrics:\n    - name: request-success-rate\n      thresholdRange: {min: 150}",
                "test.yaml:14:29: error: spec.analysis.metrics[0].thresholdRange.min is 150, expected a percentage from 0 to 100"
            ),
            (
                "maxWeight: 50", "maxWeight: 50\n    webhooks:\n    - {name: a, url: \"\"}",
                "test.yaml:13:22: error: spec.analysis.webhooks[0].url is empty, expected a URL"
            ),
        ]
    )
    func specProblems(original: String, replacement: String, message: String) {
        let (spec, messages) = decodeCanary(Self.minimal.replacingOccurrences(of: original, with: replacement))
        #expect(messages == [message])
        #expect(spec == nil)
    }

    @Test("a malformed interval is said once: the deadline is not compared with the default that stood in for it")
    func noComparisonWithADefaultThatStoodIn() {
        let yaml = Self.minimal.replacingOccurrences(of: "interval: 30s", with: "interval: 30")
            .replacingOccurrences(of: "  analysis:", with: "  progressDeadline: 20s\n  analysis:")
        let (spec, messages) = decodeCanary(yaml)
        #expect(messages.count == 1 && messages.first?.contains("spec.analysis.interval") == true, "\(messages)")
        #expect(!messages.contains { $0.contains("progressDeadline") }, "\(messages)")
        #expect(spec == nil)
    }

    @Test("a metric naming a MetricTemplate decodes as custom, with its templateVariables")
    func customMetric() {
        let yaml = Self.minimal + """

                metrics:
                - name: error-budget
                  templateRef: {name: budget, namespace: monitoring}
                  templateVariables: {app: web, "error.code": "5xx"}
                  thresholdRange: {max: 5}
                - name: not-found
                  templateRef: {name: not-found-percentage}
                  thresholdRange: {max: 1}
            """
        let (spec, messages) = decodeCanary(yaml)
        #expect(messages == [])
        #expect(
            spec?.analysis.metrics == [
                MetricCheck(
                    name: "error-budget", kind: .custom(template: "monitoring/budget"), thresholdRange: ThresholdRange(max: 5),
                    templateVariables: ["app": "web", "error.code": "5xx"]
                ),
                MetricCheck(
                    name: "not-found", kind: .custom(template: "default/not-found-percentage"), thresholdRange: ThresholdRange(max: 1)
                ),
            ]
        )
    }

    /// `minimal` with one request-success-rate metric reading from `provider`, on line 14.
    private static func successRate(provider: String) -> String {
        minimal + """

                metrics:
                - name: request-success-rate
                  provider: \(provider)
            """
    }

    @Test(
        "a built-in metric reads its numbers from the provider it names",
        arguments: [
            ("{type: prometheus, address: \"http://127.0.0.1:9090\"}", MetricSource.prometheus(address: "http://127.0.0.1:9090")),
            ("{type: gateway}", .gateway),
        ]
    )
    func metricProvider(provider: String, expected: MetricSource) {
        let (spec, messages) = decodeCanary(Self.successRate(provider: provider))
        #expect(messages == [])
        #expect(spec?.analysis.metrics.map(\.provider) == [expected])
        #expect(spec?.analysis.metrics.first?.kind == .requestSuccessRate)
    }

    @Test(
        "reports a metric's bad provider at its field, and produces no resource",
        arguments: [
            (
                "{type: datadog}",
                "test.yaml:14:24: error: spec.analysis.metrics[0].provider.type: provider datadog is not supported by Serin; "
                    + "expected prometheus or gateway"
            ),
            (
                "{type: prometheus}",
                "test.yaml:14:17: error: spec.analysis.metrics[0].provider.address is required for provider prometheus, "
                    + "e.g. http://127.0.0.1:9090"
            ),
            (
                "{type: prometheus, address: \"localhost:9090\"}",
                "test.yaml:14:45: error: spec.analysis.metrics[0].provider.address: expected an http:// or https:// URL like "
                    + "http://127.0.0.1:9090, got \"localhost:9090\""
            ),
            (
                "{type: prometheus, address: \"http://127.0.0.1:9 090\"}",
                "test.yaml:14:45: error: spec.analysis.metrics[0].provider.address: expected an http:// or https:// URL like "
                    + "http://127.0.0.1:9090, got \"http://127.0.0.1:9 090\" (a URL has no spaces or control characters)"
            ),
        ]
    )
    func badMetricProvider(provider: String, message: String) {
        let (spec, messages) = decodeCanary(Self.successRate(provider: provider))
        #expect(messages == [message])
        #expect(spec == nil)
    }

    @Test("warns about templateVariables without a templateRef, and a provider beside one: neither is used")
    func unusedMetricFields() {
        let yaml = Self.minimal + """

                metrics:
                - name: request-duration
                  templateVariables: {app: web}
                - name: error-budget
                  templateRef: {name: budget}
                  provider: {type: gateway, address: "http://127.0.0.1:9090"}
                  thresholdRange: {max: 1}
            """
        let (spec, messages) = decodeCanary(yaml)
        #expect(
            messages == [
                "test.yaml:14:26: warning: metric request-duration: spec.analysis.metrics[0].templateVariables is not used: "
                    + "only a templateRef's query has variables",
                "test.yaml:17:42: warning: spec.analysis.metrics[1].provider.address is not used: "
                    + "the gateway provider reads the gateway's own counters",
                "test.yaml:17:17: warning: metric error-budget: spec.analysis.metrics[1].provider is not used: "
                    + "the query runs on MetricTemplate default/budget's provider",
            ]
        )
        #expect(
            spec?.analysis.metrics == [
                .requestDuration(maxMilliseconds: 500),
                MetricCheck(name: "error-budget", kind: .custom(template: "default/budget"), thresholdRange: ThresholdRange(max: 1)),
            ]
        )
    }

    @Test("a field Serin's own Canary does not know is an error, as in Flagger's group: a misspelt threshold would leave its default; with no field near, the fields it could be are listed")
    func unknownFieldInSerinsCanary() {
        let yaml = Self.minimal.replacingOccurrences(of: "  analysis:", with: "  ingressRef: {name: web}\n  analysis:")
        let (spec, messages) = decodeCanary(yaml)
        #expect(messages == ["test.yaml:8:3: error: unknown field spec.ingressRef"])
        #expect(spec == nil)
        let misspelt = decodeCanary(Self.minimal.replacingOccurrences(of: "    interval: 30s", with: "    interval: 30s\n    treshold: 2"))
        #expect(misspelt.messages.contains { $0.hasSuffix("error: unknown field spec.analysis.treshold (did you mean threshold?)") }, "\(misspelt.messages)")
        #expect(misspelt.spec == nil)
        let range = decodeCanary(Self.minimal + "\n    metrics: [{name: request-success-rate, thresholdRange: {minimum: 99}}]")
        #expect(range.messages.contains { $0.hasSuffix("error: unknown field spec.analysis.metrics[0].thresholdRange.minimum (thresholdRange takes max or min)") },
                "\(range.messages)")
    }

    /// Flagger's podinfo Canary, as Flagger's Istio docs write it.
    static let flaggerCanary = """
        apiVersion: flagger.app/v1beta1
        kind: Canary
        metadata: {name: podinfo, namespace: test}
        spec:
          provider: istio
          targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
          autoscalerRef: {apiVersion: autoscaling/v2, kind: HorizontalPodAutoscaler, name: podinfo}
          progressDeadlineSeconds: 60
          service:
            port: 9898
            targetPort: 9898
            gateways: [istio-system/public-gateway]
            hosts: [app.example.com]
            retries: {attempts: 3, perTryTimeout: 1s, retryOn: "gateway-error,connect-failure,refused-stream"}
          analysis:
            interval: 1m
            threshold: 5
            maxWeight: 50
            stepWeight: 10
            metrics:
            - name: request-success-rate
              thresholdRange: {min: 99}
              interval: 1m
            - name: request-duration
              thresholdRange: {max: 500}
              interval: 30s
        """

    @Test("Flagger's metricsServer is the Prometheus the built-in metrics read; a metric's own provider keeps its own; an address that is no URL is an error at its line")
    func metricsServer() throws {
        let written = Self.flaggerCanary
            .replacingOccurrences(of: "  provider: istio\n", with: "  provider: istio\n  metricsServer: http://prometheus.istio-system:9090\n")
            .replacingOccurrences(of: "      thresholdRange: {max: 500}\n", with: "      thresholdRange: {max: 500}\n      provider: {type: prometheus, address: \"http://thanos:9090\"}\n")
        let (spec, messages) = decodeCanary(written)
        #expect(messages == [])
        #expect(spec?.analysis.metrics.map(\.provider) == [.prometheus(address: "http://prometheus.istio-system:9090"), .prometheus(address: "http://thanos:9090")])
        let wrong = decodeCanary(Self.flaggerCanary.replacingOccurrences(of: "  provider: istio\n", with: "  provider: istio\n  metricsServer: prometheus:9090\n"))
        #expect(wrong.spec == nil)
        #expect(wrong.messages.first?.hasPrefix("test.yaml:6:18: error: spec.metricsServer: ") == true, "\(wrong.messages)")
    }

    @Test("service.name names the Services and VirtualService Serin routes between, as in Flagger; the Deployments keep theirs")
    func serviceName() throws {
        let (spec, messages) = decodeCanary(Self.flaggerCanary.replacingOccurrences(of: "    port: 9898\n", with: "    port: 9898\n    name: frontend\n"))
        #expect(messages == [])
        let decoded = try #require(spec)
        #expect(decoded.workload == CanaryWorkload(deployment: "podinfo", port: 9898, autoscaler: "podinfo", service: "frontend"))
        #expect(decoded.targetRef == ResourceName(namespace: "test", name: "frontend"))
        #expect(decoded.stable == Destination(host: "frontend-primary", port: 9898))
        #expect(decoded.canary == Destination(host: "frontend-canary", port: 9898))
        #expect(decoded.canaryDeployment == "podinfo" && decoded.workload?.primary == "podinfo-primary")
        // The Deployment's own name written out is no other name.
        let same = decodeCanary(Self.flaggerCanary.replacingOccurrences(of: "    port: 9898\n", with: "    port: 9898\n    name: podinfo\n"))
        #expect(same.1 == [] && same.0?.workload?.service == nil && same.0?.stable?.host == "podinfo-primary")
    }

    @Test("an autoscalerRef of autoscaling/v2beta2, as Flagger's older docs write it, names the same HorizontalPodAutoscaler; another version is an error at it")
    func autoscalerRefVersions() throws {
        let beta = Self.flaggerCanary.replacingOccurrences(of: "apiVersion: autoscaling/v2,", with: "apiVersion: autoscaling/v2beta2,")
        let (spec, messages) = decodeCanary(beta)
        #expect(messages == [])
        #expect(spec?.workload == CanaryWorkload(deployment: "podinfo", port: 9898, autoscaler: "podinfo"))
        let v1 = Self.flaggerCanary.replacingOccurrences(of: "apiVersion: autoscaling/v2,", with: "apiVersion: autoscaling/v1,")
        #expect(decodeCanary(v1).1 == [
            "test.yaml:7:31: error: spec.autoscalerRef.apiVersion: expected autoscaling/v2 or autoscaling/v2beta2, got \"autoscaling/v1\""
        ])
    }

    @Test("Flagger's own Canary on a Deployment is read unchanged: Serin routes between NAME-primary and NAME-canary")
    func flaggerCanaryOnDeployment() throws {
        let (spec, messages) = decodeCanary(Self.flaggerCanary)
        #expect(messages == [])
        let decoded = try #require(spec)
        #expect(decoded.workload == CanaryWorkload(deployment: "podinfo", port: 9898, autoscaler: "podinfo"))
        #expect(decoded.targetRef == ResourceName(namespace: "test", name: "podinfo"))
        #expect(decoded.stable == Destination(host: "podinfo-primary", port: 9898))
        #expect(decoded.canary == Destination(host: "podinfo-canary", port: 9898))
        #expect(decoded.canaryDeployment == "podinfo")
        #expect(decoded.analysis.schedule.weights == [10, 20, 30, 40, 50])
        // Flagger's deadline is for the Deployments' progress; Serin counts from the last step, so one interval more.
        #expect(decoded.analysis.progressDeadline == .seconds(120))
        // Flagger's defaults written out, as manifests generated from its Go types write them: read, nothing refused.
        let defaults = Self.flaggerCanary.replacingOccurrences(of: "    port: 9898\n", with: "    port: 9898\n    portDiscovery: false\n")
            .replacingOccurrences(of: "    metrics:\n", with: "    webhooks: [{name: smoke, url: \"http://tester/\", muteAlert: false}]\n    metrics:\n")
        #expect(defaults.contains("muteAlert") && defaults.contains("portDiscovery"))
        #expect(decodeCanary(defaults).messages == [])
        #expect(decodeCanary(defaults).spec?.analysis.webhooks.first?.muteAlert == false)
        let muted = defaults.replacingOccurrences(of: "muteAlert: false", with: "muteAlert: true")
        #expect(decodeCanary(muted).messages == [])
        #expect(decodeCanary(muted).spec?.analysis.webhooks.first?.muteAlert == true)
    }

    @Test("Flagger's service.trafficPolicy is read as Istio's, for the DestinationRules Serin creates (the tutorial's tls modes, pools and ejection), and rewrite, corsPolicy, appProtocol and the Services' metadata with it, with no word")
    func flaggerTrafficPolicy() {
        for policy in [
            "{tls: {mode: DISABLE}}", "{tls: {mode: ISTIO_MUTUAL}}",
            "{connectionPool: {http: {http1MaxPendingRequests: 10}}, outlierDetection: {consecutive5xxErrors: 3, interval: 10s}, loadBalancer: {simple: LEAST_REQUEST}}\n"
                + "    rewrite: {uri: /}\n    corsPolicy: {allowOrigins: [{exact: \"https://a.example\"}], allowCredentials: true}\n    appProtocol: http\n"
                + "    apex: {labels: {team: shop}, annotations: {owner: shop}}\n    primary: {labels: {side: primary}}\n    canary: {annotations: {side: canary}}",
        ] {
            let decoded = decodeCanary(Self.flaggerCanary.replacingOccurrences(of: "    port: 9898\n", with: "    port: 9898\n    trafficPolicy: \(policy)\n"))
            #expect(decoded.messages == [], "\(policy)")
            #expect(decoded.spec?.workload?.deployment == "podinfo", "\(policy)")
        }
    }

    @Test("Flagger's service.headless, trafficDistribution and unmanagedMetadata are read with no word; backendTimeout, which Flagger's Istio router ignores, with a warning at its line saying so")
    func flaggerServiceKubernetesFields() {
        let fields = "    port: 9898\n    headless: true\n    trafficDistribution: PreferSameZone\n"
            + "    unmanagedMetadata: {labels: [team], annotations: [\"example.com/owner\"]}\n"
        let decoded = decodeCanary(Self.flaggerCanary.replacingOccurrences(of: "    port: 9898\n", with: fields))
        #expect(decoded.messages == [])
        #expect(decoded.spec?.workload?.deployment == "podinfo")
        let timed = decodeCanary(Self.flaggerCanary.replacingOccurrences(of: "    port: 9898\n", with: "    port: 9898\n    backendTimeout: 10s\n"))
        #expect(timed.spec?.workload?.deployment == "podinfo")
        #expect(timed.messages == [
            "test.yaml:11:21: warning: spec.service.backendTimeout is the timeout of Flagger's Gateway API provider (an HTTPRoute's "
                + "backendRequest); Flagger's Istio router ignores it, and so does Serin, which routes through Istio's VirtualService: "
                + "service.timeout bounds its requests",
        ])
    }

    @Test("a Flagger field Serin does not act on, or iterations beside weights, is an error naming the fields, never a silent skip", arguments: [
        ("    stepWeight: 10", "    stepWeight: 10\n    iterations: 10",
         "test.yaml:20:17: error: spec.analysis.iterations cannot be combined with stepWeight: iterations is blue/green "
            + "(the canary takes no live traffic until promotion), stepWeight shifts traffic step by step; write one of them"),
        ("    maxWeight: 50\n    stepWeight: 10", "    iterations: 10\n    stepWeights: [10, 50]",
         "test.yaml:18:17: error: spec.analysis.iterations cannot be combined with stepWeights: iterations is blue/green "
            + "(the canary takes no live traffic until promotion), stepWeights shifts traffic step by step; write one of them"),
        ("    maxWeight: 50\n    stepWeight: 10", "    maxWeight: 50\n    stepWeight: 10\n    match: [{headers: {x-canary: {exact: insider}}}]",
         "test.yaml:20:12: error: spec.analysis.match (A/B testing) needs spec.analysis.iterations: matching requests reach the "
            + "canary for that many analyses, the rest stay on stable; stepWeight, maxWeight and stepWeights shift all traffic instead"),
        ("    maxWeight: 50\n    stepWeight: 10", "    iterations: 10\n    match: []",
         "test.yaml:19:12: error: spec.analysis.match is empty, expected at least one match (headers, cookies via the cookie header, queryParams...)"),
        ("    maxWeight: 50\n    stepWeight: 10", "    iterations: 10\n    match: [{headers: {x-canary: {exact: insider}}}]\n    mirror: true",
         "test.yaml:20:13: error: spec.analysis.mirror cannot be beside spec.analysis.match: A/B testing sends the matching requests "
            + "themselves to the canary, mirroring sends copies; write one of them"),
        ("    maxWeight: 50\n    stepWeight: 10", "    iterations: 10\n    mirrorWeight: 50",
         "test.yaml:19:19: error: spec.analysis.mirrorWeight is set without spec.analysis.mirror: true; write mirror: true to copy requests to the canary"),
        ("    maxWeight: 50\n    stepWeight: 10", "    iterations: 10\n    mirror: true\n    mirrorWeight: 0",
         "test.yaml:20:19: error: spec.analysis.mirrorWeight is 0, expected a percentage of requests from 1 to 100"),
        ("  provider: istio", "  provider: linkerd", "test.yaml:5:13: error: spec.provider: expected istio (Serin routes through Istio's VirtualService), got \"linkerd\""),
        ("    port: 9898", "    port: 9898\n    trafficPolicy: {tls: {mode: ISTIO_MTLS}}",
         "test.yaml:11:33: error: spec.service.trafficPolicy.tls.mode: expected one of DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL, got \"ISTIO_MTLS\""),
        ("    port: 9898", "    port: 9898\n    trafficPolicy: {connectionPool: {tcp: {maxConnections: 10}}, outlierDetecton: {interval: 1s}}",
         "test.yaml:11:66: error: unknown field spec.service.trafficPolicy.outlierDetecton (did you mean outlierDetection?)"),
        ("    port: 9898", "    port: 9898\n    trafficPolicy: {}",
         "test.yaml:11:20: error: spec.service.trafficPolicy: expected at least one policy"),
        ("    port: 9898", "    port: 9898\n    corsPolicy: {allowOrigins: [{exact: \"*\"}], allowMethod: [GET]}",
         "test.yaml:11:48: error: unknown field spec.service.corsPolicy.allowMethod (did you mean allowMethods?)"),
        ("    port: 9898", "    port: 9898\n    apex: {labels: {team: [shop]}}",
         "test.yaml:11:27: error: spec.service.apex.labels.team: expected a string, got a list"),
        ("    port: 9898", "    port: 9898\n    headless: \"true\"",
         "test.yaml:11:15: error: spec.service.headless: expected a boolean, got string \"true\""),
        ("    port: 9898", "    port: 9898\n    trafficDistribution: Nearby",
         "test.yaml:11:26: error: spec.service.trafficDistribution: expected one of PreferClose, PreferSameZone, PreferSameNode (a Service's trafficDistribution), got \"Nearby\""),
        ("    port: 9898", "    port: 9898\n    unmanagedMetadata: {labels: team}",
         "test.yaml:11:33: error: spec.service.unmanagedMetadata.labels: expected a list, got string \"team\""),
        ("    port: 9898", "    port: 9898\n    unmanagedMetadata: {label: [team]}",
         "test.yaml:11:25: error: unknown field spec.service.unmanagedMetadata.label (did you mean labels?)"),
        ("    port: 9898", "    port: 9898\n    backendTimeout: soon",
         "test.yaml:11:21: error: spec.service.backendTimeout: expected a duration like 30s or 1m, got \"soon\""),
        ("    port: 9898", "    port: 9898\n    portDiscovery: yes please",
         "test.yaml:11:20: error: spec.service.portDiscovery: expected a boolean, got string \"yes please\""),
        // service.name becomes three Service names: one that cannot be is refused.
        ("    port: 9898", "    port: 9898\n    name: Front_End",
         "test.yaml:11:11: error: spec.service.name is \"Front_End\", expected a Service name: lower-case letters, digits and '-', starting "
            + "with a letter and ending with a letter or digit, at most 55 characters (Front_End-primary must be a Service name too)"),
    ])
    func flaggerFieldNotSupported(original: String, replacement: String, message: String) {
        let (spec, messages) = decodeCanary(Self.flaggerCanary.replacingOccurrences(of: original, with: replacement))
        #expect(messages == [message])
        #expect(spec == nil)
    }

    @Test("Flagger's service.delegation is read; beside hosts or gateways it is refused, as Flagger refuses it: a delegate has neither")
    func flaggerDelegation() {
        let delegating = Self.flaggerCanary.replacingOccurrences(of: "    port: 9898\n", with: "    port: 9898\n    delegation: true\n")
        let (refused, messages) = decodeCanary(delegating)
        #expect(refused == nil)
        #expect(messages == ["hosts", "gateways"].map { key in
            "test.yaml:11:17: error: spec.service.delegation: a delegate VirtualService has no hosts or gateways, so service.\(key) cannot be "
                + "written beside it (Flagger refuses both); the root VirtualService that names it in delegate has them"
        })
        let alone = delegating.replacingOccurrences(of: "    gateways: [istio-system/public-gateway]\n    hosts: [app.example.com]\n", with: "")
        let (spec, none) = decodeCanary(alone)
        #expect(none.isEmpty, "\(none)")
        #expect(spec != nil)
    }

    static let matchesEveryRequest = "test.yaml:11:13: error: spec.analysis.match[0] matches every request (its conditions hold for any): "
        + "all the routes' requests would reach the canary from the first iteration, blue/green's switch rather than A/B testing; "
        + "narrow it with a header, a cookie (the cookie header) or a query parameter"

    @Test("an A/B match entry that would not narrow the match is an error, never a cutover: a mistyped or unknown field, no condition", arguments: [
        ("[{header: {x-canary: {exact: insider}}}]", [
            "test.yaml:11:14: error: unknown field spec.analysis.match[0].header (did you mean headers?)",
            "test.yaml:11:13: error: spec.analysis.match[0] has no condition Serin applies (uri, method, authority, headers, withoutHeaders, "
                + "queryParams, sourceLabels...): every request would match it and reach the canary",
        ]),
        ("[{headers: {x-canary: {exacct: insider}}}]", ["test.yaml:11:35: error: unknown field spec.analysis.match[0].headers.x-canary.exacct (did you mean exact?)"]),
        ("[{}]", [
            "test.yaml:11:13: error: spec.analysis.match[0] has no condition Serin applies (uri, method, authority, headers, withoutHeaders, "
                + "queryParams, sourceLabels...): every request would match it and reach the canary",
        ]),
        ("[{headers: {}}]", [
            "test.yaml:11:13: error: spec.analysis.match[0] has no condition Serin applies (uri, method, authority, headers, withoutHeaders, "
                + "queryParams, sourceLabels...): every request would match it and reach the canary",
        ]),
        // Conditions that any request meets narrow nothing either.
        ("[{uri: {prefix: /}}]", [Self.matchesEveryRequest]),
        ("[{uri: {regex: \".*\"}, method: {regex: \".+\"}}]", [Self.matchesEveryRequest]),
        ("[{headers: {x-canary: {exact: insider}}}, {authority: {prefix: \"\"}}]",
         [Self.matchesEveryRequest.replacingOccurrences(of: "match[0] ", with: "match[1] ").replacingOccurrences(of: "11:13", with: "11:54")]),
    ])
    func abMatchMustNarrow(match: String, expected: [String]) {
        let yaml = Self.minimal.replacingOccurrences(of: "    stepWeight: 10\n    maxWeight: 50", with: "    iterations: 10\n    match: \(match)")
        let (spec, messages) = decodeCanary(yaml)
        #expect(spec == nil)
        #expect(messages == expected)
        // The same entries with a real condition beside them decode: presence of a header is one.
        let (fixed, fixedMessages) = decodeCanary(Self.minimal.replacingOccurrences(
            of: "    stepWeight: 10\n    maxWeight: 50", with: "    iterations: 10\n    match: [{headers: {x-canary: {}}}]"))
        #expect(fixed?.analysis.match.first?.headers["x-canary"] == .present, "\(fixedMessages)")
    }

    @Test("a Deployment target needs a service port and takes no stable or canary")
    func deploymentTargetShape() {
        let yaml = Self.minimal.replacingOccurrences(of: "{name: web-virtualservice}", with: "{kind: Deployment, name: web}")
        let (spec, messages) = decodeCanary(yaml)
        #expect(spec == nil)
        #expect(messages == [
            "test.yaml:6:11: error: spec.stable is not used with a targetRef of kind Deployment: Serin routes between the Services it creates, web-primary and web-canary (named after service.name when written)",
            "test.yaml:7:11: error: spec.canary is not used with a targetRef of kind Deployment: Serin routes between the Services it creates, web-primary and web-canary (named after service.name when written)",
            "test.yaml:5:3: error: spec.service is required",
        ])
    }

    @Test("decoding the same Canary again gives an equal resource; a changed weight does not")
    func equality() {
        let first = Fixture.decode(Self.minimal, path: "a.yaml").resources
        let moved = Fixture.decode("# moved\n" + Self.minimal.replacingOccurrences(of: "30s", with: "0m30s"), path: "b.yaml")
        #expect(first.count == 1)
        #expect(first.first?.resource == moved.resources.first?.resource)
        let changed = Fixture.decode(Self.minimal.replacingOccurrences(of: "stepWeight: 10", with: "stepWeight: 25")).resources
        #expect(first.first?.resource != changed.first?.resource)
    }

    @Test("lists the Canary specs among decoded resources")
    func canariesHelper() {
        let set = Fixture.set(Fixture.world + Self.minimal)
        #expect(set.resources.count == 5)
        #expect(set.canaries.map(\.name) == [ResourceName(name: "web")])
        #expect(set.resources.canaries == set.canaries)
    }
}
