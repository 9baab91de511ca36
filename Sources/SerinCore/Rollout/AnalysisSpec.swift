/// A Canary's `analysis` block: how often to check, how many failures to tolerate, the weight steps,
/// the metrics and the webhooks (field names follow Flagger's Canary).
public struct AnalysisSpec: Hashable, Sendable, Codable {
    /// Time between checks, e.g. `30s`.
    public var interval: Duration
    /// Failed checks after which the canary is rolled back.
    public var threshold: Int
    public var schedule: WeightSchedule
    public var metrics: [MetricCheck]
    public var webhooks: [WebhookSpec]
    /// A rollout that neither advances nor finishes for this long fails (Flagger's `progressDeadlineSeconds`).
    public var progressDeadline: Duration
    /// Which judge decides each analysis, and its settings (`analysis.judge`, `analysis.statistical`).
    public var judge: JudgeSettings
    /// Which request key pins a client to stable or canary (`analysis.stickiness`); nil: each request is drawn.
    public var stickiness: Stickiness?
    /// A/B testing (`analysis.match`, with `iterations`): requests matching any of these reach the canary while
    /// it is analysed, all others stay on stable; empty: no A/B testing.
    public var match: [RequestMatch]
    /// Flagger's `stepWeightPromotion`: once analysis passes, traffic moves to the promoted version this many
    /// percent per interval instead of all at once; nil: all at once.
    public var stepWeightPromotion: Int?
    /// Mirroring (`analysis.mirror` with `mirrorWeight`): this share of the requests is copied to the canary, its
    /// answers dropped, while it is analysed at weight 0: in every iteration of blue/green, or in the first step of a
    /// weight schedule that `mirrorsFirst` (Flagger's mirroring before the weights rise); nil: no mirroring.
    public var mirror: Percent?
    /// Cookie-sticky canary (`analysis.sessionAffinity`); nil: clients are not pinned by a cookie the gateway sets.
    public var sessionAffinity: SessionAffinity?
    /// Flagger's `analysis.alerts`: the AlertProviders that hear this Canary's events, each from its severity on.
    public var alerts: [AlertSpec]
    /// Synthetic traffic to canary and stable while the canary is analysed (`analysis.load`); nil: none.
    public var load: SyntheticLoad?
    /// Flagger's `primaryReadyThreshold`: the percentage of the primary Deployment's updated replicas that must be
    /// available for it to count as ready (100: all).
    public var primaryReadyThreshold: Int
    /// Flagger's `canaryReadyThreshold`: the same for the canary Deployment.
    public var canaryReadyThreshold: Int
    /// A check that found nothing to judge (no requests, no values from a query) counts as failed, as Flagger counts
    /// it ("no values found"), where Serin holds; set for a Canary written for Flagger (`flagger.app`).
    public var noValuesFail: Bool = false

    /// Flagger's default ready thresholds: every updated replica available.
    public static let defaultReadyThreshold = 100

    /// How often a rollout checks when the Canary does not say (the threshold judge's; the statistical judge looks every 5s).
    public static let defaultInterval: Duration = .seconds(60)

    /// Defaults: checks every 1m, rolls back after 5 failed checks, fails after 10m without progress,
    /// and checks the built-in metrics (`MetricCheck.builtInDefaults`) when none are listed.
    public init(
        interval: Duration = AnalysisSpec.defaultInterval, threshold: Int = 5, schedule: WeightSchedule,
        metrics: [MetricCheck] = MetricCheck.builtInDefaults, webhooks: [WebhookSpec] = [],
        progressDeadline: Duration = .seconds(600), judge: JudgeSettings = .threshold,
        stickiness: Stickiness? = nil, match: [RequestMatch] = [], stepWeightPromotion: Int? = nil, mirror: Percent? = nil,
        sessionAffinity: SessionAffinity? = nil, load: SyntheticLoad? = nil, alerts: [AlertSpec] = [],
        primaryReadyThreshold: Int = AnalysisSpec.defaultReadyThreshold, canaryReadyThreshold: Int = AnalysisSpec.defaultReadyThreshold
    ) {
        self.load = load
        self.primaryReadyThreshold = primaryReadyThreshold
        self.canaryReadyThreshold = canaryReadyThreshold
        self.interval = interval
        self.threshold = threshold
        self.schedule = schedule
        self.metrics = metrics
        self.webhooks = webhooks
        self.progressDeadline = progressDeadline
        self.judge = judge
        self.stickiness = stickiness
        self.match = match
        self.stepWeightPromotion = stepWeightPromotion
        self.mirror = mirror
        self.sessionAffinity = sessionAffinity
        self.alerts = alerts
    }

    private enum CodingKeys: String, CodingKey {
        case interval, threshold, schedule, metrics, webhooks, progressDeadline, judge, stickiness, match, stepWeightPromotion, mirror
        case sessionAffinity
        case load
        case alerts
        case primaryReadyThreshold, canaryReadyThreshold
        case noValuesFail
    }

    /// Reads state files written before `judge` existed as the threshold judge's, before `stickiness` as none,
    /// before `match` as no A/B testing, before `stepWeightPromotion` as promotion all at once, before `mirror`
    /// as no mirroring, before `sessionAffinity`, `load` and `alerts` as none, and before the ready thresholds as 100.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            interval: try container.decode(Duration.self, forKey: .interval),
            threshold: try container.decode(Int.self, forKey: .threshold),
            schedule: try container.decode(WeightSchedule.self, forKey: .schedule),
            metrics: try container.decode([MetricCheck].self, forKey: .metrics),
            webhooks: try container.decode([WebhookSpec].self, forKey: .webhooks),
            progressDeadline: try container.decode(Duration.self, forKey: .progressDeadline),
            judge: try container.decodeIfPresent(JudgeSettings.self, forKey: .judge) ?? .threshold,
            stickiness: try container.decodeIfPresent(Stickiness.self, forKey: .stickiness),
            match: try container.decodeIfPresent([RequestMatch].self, forKey: .match) ?? [],
            stepWeightPromotion: try container.decodeIfPresent(Int.self, forKey: .stepWeightPromotion),
            mirror: try container.decodeIfPresent(Percent.self, forKey: .mirror),
            sessionAffinity: try container.decodeIfPresent(SessionAffinity.self, forKey: .sessionAffinity),
            load: try container.decodeIfPresent(SyntheticLoad.self, forKey: .load),
            alerts: try container.decodeIfPresent([AlertSpec].self, forKey: .alerts) ?? [],
            primaryReadyThreshold: try container.decodeIfPresent(Int.self, forKey: .primaryReadyThreshold) ?? Self.defaultReadyThreshold,
            canaryReadyThreshold: try container.decodeIfPresent(Int.self, forKey: .canaryReadyThreshold) ?? Self.defaultReadyThreshold
        )
        noValuesFail = try container.decodeIfPresent(Bool.self, forKey: .noValuesFail) ?? false
    }

    /// Whether this is A/B testing: iterations with matching requests on the canary.
    public var isABTesting: Bool { !match.isEmpty }

    /// Whether this is blue/green with mirroring: iterations while a copy of the requests goes to the canary.
    public var isBlueGreenMirroring: Bool { mirror != nil && schedule.isBlueGreen }

    /// The webhooks of one type, in the order the spec lists them.
    public func webhooks(ofType type: WebhookType) -> [WebhookSpec] {
        webhooks.filter { $0.type == type }
    }
}
