import NIOConcurrencyHelpers

/// Per-destination counters, kept from the first request so analysis and `/metrics` can read them.
///
/// One shard per event loop: the hot path takes only its own shard's lock, which is contended
/// only while a scrape is merging.
public final class GatewayTelemetry: Sendable {
    private let shards: [NIOLockedValueBox<[TrafficKey: TrafficCounters]>]

    public init(shardCount: Int) {
        shards = (0..<max(1, shardCount)).map { _ in NIOLockedValueBox([:]) }
    }

    /// Records one finished request in shard `shard` (the caller's event-loop index).
    public func record(
        _ key: TrafficKey, milliseconds: Double, requestBytes: Int, responseBytes: Int, shard: Int
    ) {
        shards[shard % shards.count].withLockedValue { series in
            // Mutated in place: copying the counters out and back would copy three histograms per request.
            series[key, default: TrafficCounters()].record(
                milliseconds: milliseconds, requestBytes: requestBytes, responseBytes: responseBytes
            )
        }
    }

    /// Every series so far, merged across shards.
    public func snapshot() -> TelemetrySnapshot {
        var merged = TelemetrySnapshot()
        for shard in shards {
            merged.merge(TelemetrySnapshot(series: shard.withLockedValue { $0 }))
        }
        return merged
    }
}
