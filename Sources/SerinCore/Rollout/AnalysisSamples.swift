/// The readings collected for one analysis, by metric check name.
public struct AnalysisSamples: Hashable, Sendable, Codable {
    public var readings: [String: MetricReading]

    public init(_ readings: [String: MetricReading] = [:]) {
        self.readings = readings
    }

    public subscript(metric name: String) -> MetricReading? {
        get { readings[name] }
        set { readings[name] = newValue }
    }
}
