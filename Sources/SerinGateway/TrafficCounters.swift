/// What the gateway counts for one traffic series: requests, their durations and body sizes.
public struct TrafficCounters: Hashable, Sendable, Codable {
    public var requests: Int = 0
    /// Milliseconds from the request's head to the response's end.
    public var duration = Histogram(bounds: Histogram.durationBounds)
    /// Body bytes of each request and response.
    public var requestSize = Histogram(bounds: Histogram.sizeBounds)
    public var responseSize = Histogram(bounds: Histogram.sizeBounds)

    public init() {}

    mutating func record(milliseconds: Double, requestBytes: Int, responseBytes: Int) {
        requests += 1
        duration.record(milliseconds)
        requestSize.record(Double(requestBytes))
        responseSize.record(Double(responseBytes))
    }

    public mutating func merge(_ other: TrafficCounters) {
        requests += other.requests
        duration.merge(other.duration)
        requestSize.merge(other.requestSize)
        responseSize.merge(other.responseSize)
    }
}

/// A point-in-time copy of every series the gateway has counted since it started.
///
/// Counters only grow; a reader that wants a window subtracts two snapshots, as Prometheus does.
public struct TelemetrySnapshot: Sendable, Codable {
    public var series: [TrafficKey: TrafficCounters]

    public init(series: [TrafficKey: TrafficCounters] = [:]) {
        self.series = series
    }

    public mutating func merge(_ other: TelemetrySnapshot) {
        for (key, counters) in other.series { series[key, default: TrafficCounters()].merge(counters) }
    }

    /// Live requests and 5xx answers for one destination host, summed over codes, subsets and versions (neither
    /// mirrored copies nor synthetic load: what clients got).
    public func totals(destinationService host: String) -> (requests: Int, serverErrors: Int) {
        var requests = 0
        var errors = 0
        for (key, counters) in series where key.destinationService == host && key.kind == .live {
            requests += counters.requests
            if key.isServerError { errors += counters.requests }
        }
        return (requests, errors)
    }
}
