/// Flagger's `thresholdRange`: the bounds a metric value must stay within for a check to pass.
public struct ThresholdRange: Hashable, Sendable, Codable {
    /// The value must not fall below this (success rate: `min: 99`).
    public var min: Double?
    /// The value must not rise above this (request duration: `max: 500`).
    public var max: Double?

    public init(min: Double? = nil, max: Double? = nil) {
        self.min = min
        self.max = max
    }
}
