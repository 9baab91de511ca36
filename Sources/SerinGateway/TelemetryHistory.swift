import NIOConcurrencyHelpers
import SerinCore

/// The gateway's counters over time, so analysis can ask "what happened in the last 30s": the current counters
/// minus those of 30s ago, the way Prometheus's `increase()` works.
///
/// Each series keeps its own samples, taken only when it counted something, and fewer of them as they age: a
/// window's start is found to within a second up to a minute back, 5 s up to 5 minutes, 15 s beyond. What the history
/// holds follows the traffic of the last 15 minutes, not the number of series times the samples taken: a gateway
/// with thousands of quiet destinations keeps a few samples of each, and its sampling costs nothing while they
/// stay quiet.
public final class TelemetryHistory: Sendable {
    private let telemetry: GatewayTelemetry
    private let retention: Duration
    private let state = NIOLockedValueBox(State())

    private struct State {
        /// When the first sample was taken; nil before any.
        var began: ContinuousClock.Instant?
        var series: [TrafficKey: SeriesSamples] = [:]
        /// When every series was last thinned, quiet ones included.
        var lastSweep: ContinuousClock.Instant?
    }

    /// - Parameter retention: how far back windows can reach; older samples are dropped.
    public init(telemetry: GatewayTelemetry, retention: Duration = .seconds(900)) {
        self.telemetry = telemetry
        self.retention = retention
    }

    /// Samples the series that counted something since the last call. Call it regularly (every few hundred
    /// milliseconds): a short window's precision is the time between calls.
    public func record(at now: ContinuousClock.Instant = .now) {
        let changed = telemetry.takeChangedSeries()
        state.withLockedValue { state in
            let first = state.began == nil
            if first { state.began = now }
            let origin = state.began!
            for (key, counts) in changed {
                // A series counted before the first sample may have begun long before: windows reaching back past
                // the first sample start from it rather than from zero.
                state.series[key, default: SeriesSamples(beganBeforeFirstSample: first)]
                    .append(SeriesSamples.Sample(at: now, counts: counts), origin: origin, retention: retention)
            }
            if let last = state.lastSweep, now - last < Self.sweepInterval { return }
            state.lastSweep = now
            // Quiet series are thinned here, as they age; the busy ones also as they grow.
            for key in state.series.keys { state.series[key]!.thin(now: now, origin: origin, retention: retention) }
        }
    }

    /// How often every series, quiet ones too, is thinned to the samples its age deserves.
    static let sweepInterval = Duration.seconds(30)

    /// How many samples the history holds across every series: what its memory follows.
    var sampleCount: Int {
        state.withLockedValue { $0.series.values.reduce(0) { $0 + $1.samples.count } }
    }

    /// What the gateway counted during the last `duration`, and the span actually covered (shorter when
    /// the history does not reach back that far).
    public func window(_ duration: Duration, at now: ContinuousClock.Instant = .now) -> (counts: TrafficWindow, covered: Duration) {
        let current = telemetry.snapshot()
        let start = now - duration
        return state.withLockedValue { state in
            var counts = TrafficWindow()
            for (key, counters) in current.series {
                let total = RequestCounts(counters)
                let delta = state.series[key]?.counts(at: start).map(total.subtracting) ?? total
                if delta.requests > 0 { counts.series[key] = delta }
            }
            guard let began = state.began else { return (counts, .zero) }
            return (counts, min(duration, now - began))
        }
    }

    /// Records a sample every `interval` until the task is cancelled.
    public func sample(every interval: Duration) async {
        while !Task.isCancelled {
            record()
            try? await Task.sleep(for: interval)
        }
    }
}

/// One series' cumulative counts at the moments it changed, oldest first, thinned as they age.
struct SeriesSamples {
    struct Sample {
        let at: ContinuousClock.Instant
        let counts: RequestCounts
    }

    /// Whether the series counted requests before its first sample (it existed when the history began, or older
    /// samples were dropped): a window starting before the first sample then starts from it, not from zero.
    var beganBeforeFirstSample: Bool
    private(set) var samples: [Sample] = []
    /// How many samples were left by the last thinning: the next comes once `thinningSlack` more arrive.
    private var thinnedCount = 0

    init(beganBeforeFirstSample: Bool) {
        self.beganBeforeFirstSample = beganBeforeFirstSample
    }

    /// Samples a busy series may take beyond what its ages deserve before it is thinned again.
    static let thinningSlack = 32

    mutating func append(_ sample: Sample, origin: ContinuousClock.Instant, retention: Duration) {
        samples.append(sample)
        if samples.count >= thinnedCount + Self.thinningSlack { thin(now: sample.at, origin: origin, retention: retention) }
    }

    /// The counts as they stood at `instant`: the last sample at or before it. Nil when the series began after
    /// it (every request it counted is inside a window starting there).
    func counts(at instant: ContinuousClock.Instant) -> RequestCounts? {
        var low = 0
        var high = samples.count
        while low < high {
            let middle = (low + high) / 2
            if samples[middle].at <= instant { low = middle + 1 } else { high = middle }
        }
        if low > 0 { return samples[low - 1].counts }
        return beganBeforeFirstSample ? samples.first?.counts : nil
    }

    /// Drops samples older than `retention` but the newest of them (the start of the longest window), and of
    /// the rest keeps the last in each span of `spacing(forAge:)`, spans aligned on `origin`: as a sample ages
    /// into a wider spacing, whose spans hold whole narrower ones, it stays only if it is still the last of its span.
    mutating func thin(now: ContinuousClock.Instant, origin: ContinuousClock.Instant, retention: Duration) {
        var firstKept = 0
        while firstKept + 1 < samples.count, now - samples[firstKept + 1].at > retention { firstKept += 1 }
        if firstKept > 0 { beganBeforeFirstSample = true }
        var kept: [Sample] = []
        kept.reserveCapacity(samples.count - firstKept)
        for index in firstKept..<samples.count {
            let sample = samples[index]
            if index + 1 < samples.count, let spacing = Self.spacing(forAge: now - sample.at),
                Self.span(of: samples[index + 1].at, spacing, origin) == Self.span(of: sample.at, spacing, origin)
            {
                continue
            }
            kept.append(sample)
        }
        samples = kept
        thinnedCount = kept.count
    }

    /// How far apart samples of an age are kept, nil for every one: a window finds its start within this (and one
    /// sampling interval), so to within a second up to a minute, 5 s up to 5 minutes and 15 s beyond. Each spacing
    /// divides the next, so a span of one holds whole spans of those before.
    static func spacing(forAge age: Duration) -> Duration? {
        switch age {
        case ..<Duration.seconds(10): nil
        case ..<Duration.seconds(60): .seconds(1)
        case ..<Duration.seconds(300): .seconds(5)
        default: .seconds(15)
        }
    }

    private static func span(of instant: ContinuousClock.Instant, _ spacing: Duration, _ origin: ContinuousClock.Instant) -> Int64 {
        let milliseconds = (instant - origin).wholeMilliseconds
        let width = spacing.components.seconds * 1000
        return milliseconds >= 0 ? milliseconds / width : (milliseconds - width + 1) / width
    }
}

extension TelemetrySnapshot {
    /// The counts that accrued since `earlier`.
    public func subtracting(_ earlier: TelemetrySnapshot) -> TelemetrySnapshot {
        var result = TelemetrySnapshot()
        for (key, counters) in series {
            guard let before = earlier.series[key] else {
                result.series[key] = counters
                continue
            }
            let delta = counters.subtracting(before)
            if delta.requests > 0 { result.series[key] = delta }
        }
        return result
    }

    /// Requests, 5xx answers and the latency histogram for one destination host (see `TrafficWindow.traffic`).
    public func traffic(
        toHost host: String, subset: String? = nil, kinds: Set<RequestKind> = [.live]
    ) -> (requests: Int, serverErrors: Int, duration: Histogram) {
        series.traffic(toHost: host, subset: subset, kinds: kinds)
    }
}

/// A series' requests and their latency: what a window of the history holds, and what analysis judges. The byte
/// sizes `/metrics` exports stay with the live counters, so a sample takes one histogram, not three.
public struct RequestCounts: Hashable, Sendable {
    public var requests: Int
    public var duration: Histogram

    init(_ counters: TrafficCounters) {
        requests = counters.requests
        duration = counters.duration
    }

    func subtracting(_ earlier: RequestCounts) -> RequestCounts {
        var result = self
        result.requests -= earlier.requests
        result.duration.subtract(earlier.duration)
        return result
    }

    func adding(_ other: RequestCounts) -> RequestCounts {
        var result = self
        result.requests += other.requests
        result.duration.merge(other.duration)
        return result
    }
}

/// What the gateway counted during a window of its history, series by series.
public struct TrafficWindow: Sendable {
    public var series: [TrafficKey: RequestCounts] = [:]

    /// Requests, 5xx answers and the latency histogram for one destination host (optionally one subset),
    /// leaving out requests the client abandoned (`DC`), which say nothing about the destination: by default the
    /// live requests; `kinds` may add Serin's synthetic load, or ask for the copies a route's `mirror` sent there
    /// (a mirror abandoned as it fell behind is `DC` too).
    public func traffic(
        toHost host: String, subset: String? = nil, kinds: Set<RequestKind> = [.live]
    ) -> (requests: Int, serverErrors: Int, duration: Histogram) {
        series.traffic(toHost: host, subset: subset, kinds: kinds)
    }
}

/// Series counts that say how many requests there were and how long they took.
protocol CountsRequests {
    var requests: Int { get }
    var duration: Histogram { get }
}

extension TrafficCounters: CountsRequests {}
extension RequestCounts: CountsRequests {}

extension Dictionary where Key == TrafficKey, Value: CountsRequests {
    func traffic(toHost host: String, subset: String?, kinds: Set<RequestKind>) -> (requests: Int, serverErrors: Int, duration: Histogram) {
        var requests = 0
        var errors = 0
        var duration = Histogram(bounds: Histogram.durationBounds)
        for (key, counts) in self
        where key.destinationService == host && kinds.contains(key.kind) && !key.responseFlags.clientGaveUp {
            if let subset, key.subset != subset { continue }
            requests += counts.requests
            if key.isServerError { errors += counts.requests }
            duration.merge(counts.duration)
        }
        return (requests, errors, duration)
    }
}

extension TrafficCounters {
    func subtracting(_ earlier: TrafficCounters) -> TrafficCounters {
        var result = TrafficCounters()
        result.requests = requests - earlier.requests
        result.duration = duration.subtracting(earlier.duration)
        result.requestSize = requestSize.subtracting(earlier.requestSize)
        result.responseSize = responseSize.subtracting(earlier.responseSize)
        return result
    }
}

extension Histogram {
    func subtracting(_ earlier: Histogram) -> Histogram {
        var result = self
        result.subtract(earlier)
        return result
    }

    /// The `q` quantile (0...1) estimated as Prometheus's `histogram_quantile` does: linear within the
    /// bucket holding the rank; the highest finite bound when the rank falls in `+Inf`. Nil when empty.
    public func quantile(_ q: Double) -> Double? {
        guard count > 0 else { return nil }
        let rank = q * Double(count)
        var cumulative = 0
        for (index, bucketCount) in counts.enumerated() {
            let previous = cumulative
            cumulative += bucketCount
            guard Double(cumulative) >= rank, bucketCount > 0 else { continue }
            guard index < bounds.count else { return bounds.last }
            let lower = index == 0 ? 0 : bounds[index - 1]
            let upper = bounds[index]
            return lower + (upper - lower) * (rank - Double(previous)) / Double(bucketCount)
        }
        return bounds.last
    }
}
