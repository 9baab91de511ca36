import NIOConcurrencyHelpers

/// Snapshots of the gateway's counters over time, so analysis can ask "what happened in the last 30s":
/// the current counters minus the snapshot taken 30s ago, the way Prometheus's `increase()` works.
public final class TelemetryHistory: Sendable {
    private let telemetry: GatewayTelemetry
    private let retention: Duration
    private let snapshots = NIOLockedValueBox<[(at: ContinuousClock.Instant, snapshot: TelemetrySnapshot)]>([])

    /// - Parameter retention: how far back windows can reach; older snapshots are dropped.
    public init(telemetry: GatewayTelemetry, retention: Duration = .seconds(900)) {
        self.telemetry = telemetry
        self.retention = retention
    }

    /// Takes a snapshot now. Call it regularly (every few hundred milliseconds): a window's precision is
    /// the time between snapshots.
    public func record(at now: ContinuousClock.Instant = .now) {
        let snapshot = telemetry.snapshot()
        snapshots.withLockedValue { list in
            list.append((now, snapshot))
            // Keep one snapshot older than the retention so the longest window still has a start.
            while list.count > 1, now - list[1].at > retention { list.removeFirst() }
        }
    }

    /// What the gateway counted during the last `duration`, and the span actually covered (shorter when
    /// the history does not reach back that far).
    public func window(_ duration: Duration, at now: ContinuousClock.Instant = .now) -> (counts: TelemetrySnapshot, covered: Duration) {
        let current = telemetry.snapshot()
        let start = now - duration
        let base = snapshots.withLockedValue { list in
            list.last { $0.at <= start } ?? list.first
        }
        guard let base else { return (current, .zero) }
        return (current.subtracting(base.snapshot), now - base.at)
    }

    /// Records a snapshot every `interval` until the task is cancelled.
    public func sample(every interval: Duration) async {
        while !Task.isCancelled {
            record()
            try? await Task.sleep(for: interval)
        }
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

    /// Requests, 5xx answers and the latency histogram for one destination host (optionally one subset),
    /// leaving out requests the client abandoned (`DC`), which say nothing about the destination: by default the
    /// live requests; `kinds` may add Serin's synthetic load, or ask for the copies a route's `mirror` sent there
    /// (a mirror abandoned as it fell behind is `DC` too).
    public func traffic(
        toHost host: String, subset: String? = nil, kinds: Set<RequestKind> = [.live]
    ) -> (requests: Int, serverErrors: Int, duration: Histogram) {
        var requests = 0
        var errors = 0
        var duration = Histogram(bounds: Histogram.durationBounds)
        for (key, counters) in series
        where key.destinationService == host && kinds.contains(key.kind) && key.responseFlags != .downstreamConnectionTermination {
            if let subset, key.subset != subset { continue }
            requests += counters.requests
            if key.isServerError { errors += counters.requests }
            duration.merge(counters.duration)
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
