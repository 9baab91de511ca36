extension CanarySpec {
    /// Every problem that would make a rollout of this spec misbehave; empty when it is sound.
    /// The weight schedule is already valid by construction (`WeightSchedule`'s initialisers throw).
    public var problems: [CanarySpecError.Problem] {
        var problems: [CanarySpecError.Problem] = []
        func problem(_ field: String, _ message: String, comparedWith: [String] = []) {
            problems.append(.init(field: field, message: message, comparedWith: comparedWith))
        }

        if canary.host.isEmpty { problem("canary.host", "is empty, expected a service host") }
        if let stable {
            if stable.host.isEmpty { problem("stable.host", "is empty, expected a service host") }
            if canary.isSameVersion(as: stable) {
                problem("canary", "is \(canary), expected a destination other than stable")
            }
        }

        let analysis = self.analysis
        if analysis.interval <= .zero {
            problem("analysis.interval", "is \(Readable.duration(analysis.interval)), expected more than 0s")
        }
        if analysis.threshold < 1 {
            problem("analysis.threshold", "is \(analysis.threshold), expected at least 1")
        }
        if analysis.progressDeadline <= analysis.interval {
            problem("analysis.progressDeadline",
                    "is \(Readable.duration(analysis.progressDeadline)), expected more than analysis.interval \(Readable.duration(analysis.interval))",
                    comparedWith: ["analysis.interval"])
        }

        if let step = analysis.stepWeightPromotion, !(1...100).contains(step) {
            problem("analysis.stepWeightPromotion", "is \(step), expected a percentage from 1 to 100")
        }

        switch analysis.stickiness {
        case .header(let name)? where name.isEmpty:
            problem("analysis.stickiness.header", "is empty, expected a header name")
        case .cookie(let name)? where name.isEmpty:
            problem("analysis.stickiness.cookie", "is empty, expected a cookie name")
        default:
            break
        }

        if analysis.isABTesting && !analysis.schedule.isBlueGreen {
            problem("analysis.match", "is set but the steps are weights: A/B testing runs analysis.iterations with only matching requests on the canary; write iterations")
        }

        if analysis.mirror == nil && analysis.schedule.mirrorsFirst {
            problem("analysis.mirror", "is not set but the first step mirrors: set the share of requests to copy to the canary")
        }
        if let mirror = analysis.mirror {
            if !analysis.schedule.isBlueGreen && !analysis.schedule.mirrorsFirst {
                problem("analysis.mirror", "is set but no step mirrors: weight steps with mirroring start with a mirrored step at weight 0")
            } else if analysis.isABTesting {
                problem("analysis.mirror", "is set beside analysis.match: mirroring is blue/green's, A/B testing sends the matching requests themselves; write one of them")
            }
            if !(mirror.value > 0 && mirror.value <= 100) {
                problem("analysis.mirrorWeight", "is \(Readable.trimmed(mirror.value)), expected a percentage of requests above 0 and at most 100")
            }
        }

        let judge = analysis.judge
        if judge.kind != .threshold {
            let field = "analysis.statistical"
            if !(judge.confidence >= 50 && judge.confidence < 100) {
                problem("\(field).confidence", "is \(Readable.trimmed(judge.confidence)), expected a percentage from 50 up to (not including) 100, like 99")
            }
            if !(judge.errorRateIncrease >= 0 && judge.errorRateIncrease <= 100) {
                problem("\(field).errorRateIncrease", "is \(Readable.trimmed(judge.errorRateIncrease)), expected percentage points from 0 to 100, like 1")
            }
            if !(judge.latencyIncrease >= 0 && judge.latencyIncrease.isFinite) {
                problem("\(field).latencyIncrease", "is \(Readable.trimmed(judge.latencyIncrease)), expected a percentage of 0 or more, like 20")
            }
            if judge.minStepDuration < .zero {
                problem("\(field).minStepDuration", "is \(Readable.duration(judge.minStepDuration)), expected 0s or more")
            }
            if let longest = judge.maxStepDuration, longest <= judge.minStepDuration || longest < analysis.interval {
                problem("\(field).maxStepDuration",
                        "is \(Readable.duration(longest)), expected more than minStepDuration \(Readable.duration(judge.minStepDuration)) and at least analysis.interval \(Readable.duration(analysis.interval))")
            }
        }

        for (index, metric) in analysis.metrics.enumerated() {
            let field = "analysis.metrics[\(index)]"
            if metric.name.isEmpty { problem("\(field).name", "is empty, expected a metric name") }
            if let first = analysis.metrics.firstIndex(where: { $0.name == metric.name }), first < index {
                problem("\(field).name", "is \(metric.name), expected a name not already used by metrics[\(first)]")
            }
            if metric.interval <= .zero {
                problem("\(field).interval", "is \(Readable.duration(metric.interval)), expected more than 0s")
            }
            if metric.minRequests < 0 {
                problem("\(field).minRequests", "is \(metric.minRequests), expected 0 or more")
            }
            let range = metric.thresholdRange
            switch (range.min, range.max) {
            case (nil, nil):
                problem("\(field).thresholdRange", "is empty, expected min, max or both")
            case (let min?, let max?) where min > max:
                problem("\(field).thresholdRange", "has min \(Readable.trimmed(min)) above max \(Readable.trimmed(max))")
            default:
                break
            }
            if metric.kind == .requestSuccessRate {
                for (bound, value) in [("min", range.min), ("max", range.max)] {
                    if let value, !(0...100).contains(value) {
                        problem("\(field).thresholdRange.\(bound)", "is \(Readable.trimmed(value)), expected a percentage from 0 to 100")
                    }
                }
            }
        }

        for (index, webhook) in analysis.webhooks.enumerated() {
            let field = "analysis.webhooks[\(index)]"
            if webhook.name.isEmpty { problem("\(field).name", "is empty, expected a webhook name") }
            if let first = analysis.webhooks.firstIndex(where: { $0.name == webhook.name }), first < index {
                problem("\(field).name", "is \(webhook.name), expected a name not already used by webhooks[\(first)]")
            }
            if webhook.url.isEmpty { problem("\(field).url", "is empty, expected a URL") }
            if webhook.timeout <= .zero {
                problem("\(field).timeout", "is \(Readable.duration(webhook.timeout)), expected more than 0s")
            }
        }
        return problems
    }

    /// Throws every problem at once, so a person fixes the spec in one pass.
    public func validate() throws(CanarySpecError) {
        let problems = self.problems
        if !problems.isEmpty { throw CanarySpecError(problems: problems) }
    }
}
