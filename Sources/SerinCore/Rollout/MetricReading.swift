/// What was measured for one metric check: request traffic (built-ins) or a single value (custom queries).
public enum MetricReading: Hashable, Sendable, Codable {
    /// Canary traffic, and the stable side's over the same window as a baseline for people to compare.
    case traffic(canary: MetricSample, stable: MetricSample?)
    /// A custom query's result; nil is Flagger's "no values found", distinct from an error.
    case value(Double?, window: Duration)
    /// The metrics backend could not be asked (unreachable, erroring) even after retries: a failed check,
    /// because a rollout must not advance on data nobody could read.
    case unavailable(reason: String)
}
