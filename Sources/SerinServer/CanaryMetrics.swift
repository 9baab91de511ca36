import SerinController
import SerinCore

/// One Canary's rollout as time series, for charts: each metric's canary and stable values with its
/// threshold and the verdict at every check, and the canary weight over time.
public struct CanaryMetrics: Codable, Sendable, Equatable {
    public var name: String
    public var namespace: String
    public var metrics: [Series]
    public var weights: [WeightPoint]

    /// One metric check over the rollout.
    public struct Series: Codable, Sendable, Equatable {
        public var name: String
        /// `percent` (success rate), `ms` (request duration) or `value` (a custom query).
        public var unit: String
        /// The check passes while the canary's value stays within these bounds (a chart draws them as lines).
        public var thresholdMin: Double?
        public var thresholdMax: Double?
        /// Every check of the metric, oldest first, with its verdict (`pass`, `fail`, `inconclusive`), reason and comparison.
        public var points: [MeasurementView]
    }

    /// The canary's share of traffic from a moment on.
    public struct WeightPoint: Codable, Sendable, Equatable {
        @RFC3339Time public var time: Double
        public var canaryWeight: Int
    }

    /// The series of `spec`'s metrics from `measurements` (oldest first); the weight series ends with the
    /// weight `status` reports now, from its last phase change, so a promotion or rollback after the last
    /// check still shows.
    init(spec: CanarySpec, status: CanaryStatus, measurements: [RecordedMeasurement]) {
        name = spec.name.name
        namespace = spec.name.namespace
        let byMetric = Dictionary(grouping: measurements, by: \.metric)
        metrics = spec.analysis.metrics.map { check in
            Series(
                name: check.name, unit: Self.unit(of: check.kind), thresholdMin: check.thresholdRange.min,
                thresholdMax: check.thresholdRange.max, points: (byMetric[check.name] ?? []).map(MeasurementView.init)
            )
        }
        var weights: [WeightPoint] = []
        for measurement in measurements {
            let point = WeightPoint(time: measurement.instant.unixSeconds, canaryWeight: measurement.canaryWeight)
            if weights.last?.time != point.time { weights.append(point) }
        }
        // The release's own canary, as its measurements have it: 100 once promoted (the status reads 0 beside it as the stable).
        let canaryWeight = status.releaseWeights.canary
        if let changed = status.lastTransitionTime, weights.last?.canaryWeight != canaryWeight {
            // The transition time is whole seconds; never draw it before the check it followed.
            weights.append(WeightPoint(time: max(changed, weights.last?.time ?? changed), canaryWeight: canaryWeight))
        }
        self.weights = weights
    }

    static func unit(of kind: MetricCheck.Kind) -> String {
        switch kind {
        case .requestSuccessRate: return "percent"
        case .requestDuration: return "ms"
        case .custom: return "value"
        }
    }
}
