import NIOConcurrencyHelpers

/// Per-destination counters, kept from the first request so analysis and `/metrics` can read them.
///
/// One shard per event loop: the hot path takes only its own shard's lock, which is contended
/// only while a scrape is merging.
public final class GatewayTelemetry: Sendable {
    private let shards: [NIOLockedValueBox<[TrafficKey: TrafficCounters]>]
    /// Passed-through connections' series, apart from the requests': the HTTP path never touches them. Their keys'
    /// `responseCode` is 0.
    private let tcpShards: [NIOLockedValueBox<[TrafficKey: TCPCounters]>]

    public init(shardCount: Int) {
        shards = (0..<max(1, shardCount)).map { _ in NIOLockedValueBox([:]) }
        tcpShards = (0..<max(1, shardCount)).map { _ in NIOLockedValueBox([:]) }
    }

    /// Counts a passed-through connection's event in shard `shard`.
    func recordTCP(_ key: TrafficKey, _ event: TCPEvent, shard: Int) {
        tcpShards[shard % tcpShards.count].withLockedValue { series in
            series[key, default: TCPCounters()].connectionsOpened += event.opened
            series[key, default: TCPCounters()].connectionsClosed += event.closed
            series[key, default: TCPCounters()].sentBytes += event.sent
            series[key, default: TCPCounters()].receivedBytes += event.received
        }
    }

    /// Every passed-through connection series so far, merged across shards.
    public func tcpSnapshot() -> [TrafficKey: TCPCounters] {
        var merged: [TrafficKey: TCPCounters] = [:]
        for shard in tcpShards {
            for (key, counters) in shard.withLockedValue({ $0 }) { merged[key, default: TCPCounters()].merge(counters) }
        }
        return merged
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
