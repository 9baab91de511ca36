import SerinCore
import SerinServer

/// A recorded release turned back into traffic for `serin simulate --replay`: the total request rate and each
/// version's failures and latency as the history measured them, so a changed Canary can be tried on the release
/// that really happened. The recorded weights are left out: the changed Canary's own schedule sets those.
struct HistoryReplay: Equatable {
    /// The canary of the release replayed (`web-v2-service:80`).
    var release: String
    /// From the release's start to its last measurement.
    var recorded: Duration
    /// A segment from each moment of measurement.
    var traffic: SimulatedTraffic

    /// Why a history cannot be replayed, naming where it came from.
    struct Failure: Error, Equatable, CustomStringConvertible {
        var description: String
    }

    /// The last release of `history` (read from `source`). A version's latency is `defaultLatency` until a
    /// `request-duration` measurement says otherwise, and all along without one.
    init(_ history: CanaryHistory, source: String, defaultLatency: SimulatedTraffic.Version) throws(Failure) {
        guard let release = history.releases.last else {
            throw Failure(description: "\(source) holds no releases; expected the output of serin history NAME -o json")
        }
        let measurements = history.measurements.enumerated()
            .filter { $0.element.time >= release.started && $0.element.time <= (release.ended ?? .infinity) }
            .sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }
            .map(\.element)
        let successRates = measurements.filter { $0.metric == "request-success-rate" }
        guard let last = measurements.last, !successRates.isEmpty else {
            throw Failure(description:
                "\(source) holds no request-success-rate measurements for the last release; replay needs request counts")
        }
        var changes = Self.rates(successRates)
        for duration in measurements where duration.metric == "request-duration" {
            // A version without requests has no p99 to go by: its latency before still holds.
            let median = { (requests: Int?, p99: Double?) -> Double? in
                guard let requests, requests > 0, let p99, p99 > 0 else { return nil }
                return SimulatedTraffic.Version.median(p99Milliseconds: p99, logSpread: defaultLatency.logSpread)
            }
            changes.append(Change(
                time: duration.time, stableMedian: median(duration.stableRequests, duration.stable),
                canaryMedian: median(duration.canaryRequests, duration.canary)))
        }
        changes.sort { $0.time < $1.time }
        self.release = release.canary
        recorded = .seconds(last.time - release.started)
        traffic = Self.traffic(from: changes, start: release.started, defaultLatency: defaultLatency)
    }

    /// What one measurement says about the traffic from its time on; nil where it says nothing.
    struct Change {
        var time: Double
        var requestsPerSecond: Double?
        var stableErrorRate: Double?
        var canaryErrorRate: Double?
        var stableMedian: Double?
        var canaryMedian: Double?
    }

    /// Request rates and error rates from `request-success-rate` measurements, oldest first. A look that continues
    /// the one before it (the statistical judge's: the same step, its window grown by the time between them)
    /// counts only what it added, so a change within a step shows when it happened, not diluted by the step so far.
    static func rates(_ measurements: [MeasurementView]) -> [Change] {
        var changes: [Change] = []
        var previous: MeasurementView?
        for measurement in measurements {
            var window = measurement.window ?? previous.map { measurement.time - $0.time } ?? 60
            var (canary, stable) = (Served(measurement.canaryRequests, measurement.canary), Served(measurement.stableRequests, measurement.stable))
            if let previous, let before = previous.window, continues(measurement, previous) {
                window -= before
                canary = canary.since(Served(previous.canaryRequests, previous.canary))
                stable = stable.since(Served(previous.stableRequests, previous.stable))
            }
            changes.append(Change(
                time: measurement.time,
                requestsPerSecond: window > 0 ? (canary.requests + stable.requests) / window : nil,
                stableErrorRate: stable.errorRate, canaryErrorRate: canary.errorRate))
            previous = measurement
        }
        return changes
    }

    /// Whether `measurement` is a later look at the same span as `previous`: the same weight, counts that only
    /// grew, and a window grown by the time between them (windows are whole seconds, so give or take one).
    static func continues(_ measurement: MeasurementView, _ previous: MeasurementView) -> Bool {
        guard let window = measurement.window, let before = previous.window, window > before else { return false }
        return measurement.canaryWeight == previous.canaryWeight
            && (measurement.canaryRequests ?? 0) >= (previous.canaryRequests ?? 0)
            && (measurement.stableRequests ?? 0) >= (previous.stableRequests ?? 0)
            && abs((window - before) - (measurement.time - previous.time)) <= 1.5
    }

    /// One version's requests and failures in a measurement, from its count and success rate in percent.
    struct Served {
        var requests: Double
        var failures: Double

        /// Built-in metrics always count their requests; none counted reads as none served.
        init(_ requests: Int?, _ successPercent: Double?) {
            self.requests = Double(requests ?? 0)
            failures = self.requests * (1 - (successPercent ?? 100) / 100)
        }

        /// What was served after `earlier`.
        func since(_ earlier: Served) -> Served {
            var added = self
            added.requests -= earlier.requests
            added.failures -= earlier.failures
            return added
        }

        /// The fraction that failed; nil without requests, where the rate before still holds.
        var errorRate: Double? {
            requests > 0 ? min(1, max(0, failures / requests)) : nil
        }
    }

    /// One segment a moment of measurement, each field as the latest measurement said. Before a version's first
    /// reading its first reading holds: a canary that served nothing at first behaves as it later did.
    static func traffic(from changes: [Change], start: Double, defaultLatency: SimulatedTraffic.Version) -> SimulatedTraffic {
        func first(_ field: KeyPath<Change, Double?>) -> Double? { changes.lazy.compactMap { $0[keyPath: field] }.first }
        var segment = SimulatedTraffic.Segment(
            from: .zero, requestsPerSecond: first(\.requestsPerSecond) ?? 0,
            stable: .init(
                errorRate: first(\.stableErrorRate) ?? first(\.canaryErrorRate) ?? 0,
                medianMilliseconds: first(\.stableMedian) ?? defaultLatency.medianMilliseconds, logSpread: defaultLatency.logSpread),
            canary: .init(
                errorRate: first(\.canaryErrorRate) ?? first(\.stableErrorRate) ?? 0,
                medianMilliseconds: first(\.canaryMedian) ?? defaultLatency.medianMilliseconds, logSpread: defaultLatency.logSpread))
        var segments: [SimulatedTraffic.Segment] = []
        for change in changes {
            segment.from = .seconds(max(0, change.time - start))
            segment.requestsPerSecond = change.requestsPerSecond ?? segment.requestsPerSecond
            segment.stable.errorRate = change.stableErrorRate ?? segment.stable.errorRate
            segment.canary.errorRate = change.canaryErrorRate ?? segment.canary.errorRate
            segment.stable.medianMilliseconds = change.stableMedian ?? segment.stable.medianMilliseconds
            segment.canary.medianMilliseconds = change.canaryMedian ?? segment.canary.medianMilliseconds
            // Checks of one analysis are measured at the same moment: one segment for them all.
            if segments.last?.from == segment.from { segments.removeLast() }
            segments.append(segment)
        }
        // `changes` holds at least one success-rate measurement, so there is a segment.
        return SimulatedTraffic(segments: segments)!
    }
}
