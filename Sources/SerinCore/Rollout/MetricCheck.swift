/// One metric the analysis checks every interval, named and bounded as in Flagger's `metrics` list.
public struct MetricCheck: Hashable, Sendable, Codable {
    /// What the metric measures, which decides the reading it needs and how its value reads.
    public enum Kind: Hashable, Sendable, Codable {
        /// Percent of canary requests that did not fail (non-5xx), from request counts.
        case requestSuccessRate
        /// 99th percentile of canary request duration in milliseconds.
        case requestDuration
        /// A user query (Flagger's `templateRef`) that yields one number.
        case custom(template: String)
    }

    /// The name people read in events, e.g. `request-success-rate`.
    public var name: String
    public var kind: Kind
    public var thresholdRange: ThresholdRange
    /// The window the metric is measured over, e.g. the last `1m`.
    public var interval: Duration
    /// Below this many canary requests in the window the check is inconclusive, never a pass.
    /// Ignored for custom metrics, which carry no request count.
    public var minRequests: Int
    /// Where this check's numbers come from; nil means the controller's default source.
    public var provider: MetricSource?
    /// `{{ variables.NAME }}` values for a custom metric's query (Flagger's `templateVariables`).
    public var templateVariables: [String: String]

    public init(
        name: String, kind: Kind, thresholdRange: ThresholdRange, interval: Duration = .seconds(60), minRequests: Int = 1,
        provider: MetricSource? = nil, templateVariables: [String: String] = [:]
    ) {
        self.name = name
        self.kind = kind
        self.thresholdRange = thresholdRange
        self.interval = interval
        self.minRequests = minRequests
        self.provider = provider
        self.templateVariables = templateVariables
    }

    private enum CodingKeys: String, CodingKey {
        case name, kind, thresholdRange, interval, minRequests, provider, templateVariables
    }

    /// Reads state files written before `provider` and `templateVariables` existed.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            name: try container.decode(String.self, forKey: .name), kind: try container.decode(Kind.self, forKey: .kind),
            thresholdRange: try container.decode(ThresholdRange.self, forKey: .thresholdRange),
            interval: try container.decode(Duration.self, forKey: .interval),
            minRequests: try container.decode(Int.self, forKey: .minRequests),
            provider: try container.decodeIfPresent(MetricSource.self, forKey: .provider),
            templateVariables: try container.decodeIfPresent([String: String].self, forKey: .templateVariables) ?? [:]
        )
    }

    /// The built-in `request-success-rate`: at least `min` percent of requests succeed.
    public static func requestSuccessRate(min: Double, interval: Duration = .seconds(60), minRequests: Int = 1) -> MetricCheck {
        MetricCheck(name: "request-success-rate", kind: .requestSuccessRate, thresholdRange: ThresholdRange(min: min),
                    interval: interval, minRequests: minRequests)
    }

    /// The built-in `request-duration`: p99 at most `maxMilliseconds`.
    public static func requestDuration(maxMilliseconds: Double, interval: Duration = .seconds(60), minRequests: Int = 1) -> MetricCheck {
        MetricCheck(name: "request-duration", kind: .requestDuration, thresholdRange: ThresholdRange(max: maxMilliseconds),
                    interval: interval, minRequests: minRequests)
    }

    /// What a Canary gets when it lists no metrics: success rate ≥ 99% and p99 ≤ 500ms over 1m.
    public static let builtInDefaults: [MetricCheck] = [
        .requestSuccessRate(min: 99),
        .requestDuration(maxMilliseconds: 500),
    ]
}
