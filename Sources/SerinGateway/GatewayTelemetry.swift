import NIOConcurrencyHelpers
import SerinCore

/// Per-destination counters, kept from the first request so analysis and `/metrics` can read them.
///
/// One shard per event loop: the hot path takes only its own shard's lock, which is contended
/// only while a scrape is merging.
public final class GatewayTelemetry: Sendable {
    private let shards: [NIOLockedValueBox<Shard>]
    /// Passed-through connections' series, apart from the requests': the HTTP path never touches them. Their keys'
    /// `responseCode` is 0.
    private let tcpShards: [NIOLockedValueBox<[TrafficKey: TCPCounters]>]

    public init(shardCount: Int) {
        shards = (0..<max(1, shardCount)).map { _ in NIOLockedValueBox(Shard()) }
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
        shards[shard % shards.count].withLockedValue { shard in
            shard.record(at: shard.index(of: key), milliseconds: milliseconds, requestBytes: requestBytes, responseBytes: responseBytes)
        }
    }

    /// Records one proxied request, found by where it went: the series of most requests is found without
    /// building its `TrafficKey` (strings, a label lookup, a hash of them all); `key` makes it the first time.
    /// `memo` is the caller's, always used with the same `shard`: a series found in it needs no lookup at all.
    func record(
        _ routed: RoutedSeries, milliseconds: Double, requestBytes: Int, responseBytes: Int, shard: Int, memo: inout SeriesMemo,
        key: () -> TrafficKey
    ) {
        let remembered = memo.index(of: routed)
        let index = shards[shard % shards.count].withLockedValue { shard in
            let index: Int
            if let remembered {
                index = remembered
            } else if let found = shard.routed[routed] {
                index = found
            } else {
                index = shard.index(of: key())
                // Each reconfiguration brings new targets; the stale ones' entries go in one sweep now and then.
                if shard.routed.count >= Shard.maxRouted { shard.routed.removeAll(keepingCapacity: true) }
                shard.routed[routed] = index
            }
            shard.record(at: index, milliseconds: milliseconds, requestBytes: requestBytes, responseBytes: responseBytes)
            return index
        }
        if remembered == nil { memo.remember(routed, at: index) }
    }

    /// Every series so far, merged across shards.
    public func snapshot() -> TelemetrySnapshot {
        var merged = TelemetrySnapshot()
        for shard in shards {
            merged.merge(TelemetrySnapshot(series: shard.withLockedValue { $0.series() }))
        }
        return merged
    }

    /// The series that counted a request since the last call, with their totals across shards: what a history
    /// samples, at a cost that follows the traffic rather than every series ever seen. One caller only (the
    /// `TelemetryHistory`): each call takes the changes the last one left.
    func takeChangedSeries() -> [TrafficKey: RequestCounts] {
        var changed: Set<TrafficKey> = []
        for shard in shards { shard.withLockedValue { $0.takeChangedKeys(into: &changed) } }
        guard !changed.isEmpty else { return [:] }
        var totals: [TrafficKey: RequestCounts] = [:]
        totals.reserveCapacity(changed.count)
        for shard in shards {
            shard.withLockedValue { shard in
                for key in changed {
                    guard let index = shard.indices[key] else { continue }
                    let counts = RequestCounts(shard.counters[index])
                    if let earlier = totals[key] { totals[key] = earlier.adding(counts) } else { totals[key] = counts }
                }
            }
        }
        return totals
    }

    /// One event loop's series: the counters, the index of each key's, the index of each routed series seen lately,
    /// and which series counted a request since a history last sampled them.
    private struct Shard {
        var counters: [TrafficCounters] = []
        var indices: [TrafficKey: Int] = [:]
        var keys: [TrafficKey] = []
        var routed: [RoutedSeries: Int] = [:]
        var changed: [Bool] = []
        var changedIndices: [Int] = []

        static let maxRouted = 4096

        mutating func index(of key: TrafficKey) -> Int {
            if let index = indices[key] { return index }
            counters.append(TrafficCounters())
            keys.append(key)
            changed.append(false)
            indices[key] = counters.count - 1
            return counters.count - 1
        }

        mutating func record(at index: Int, milliseconds: Double, requestBytes: Int, responseBytes: Int) {
            counters[index].record(milliseconds: milliseconds, requestBytes: requestBytes, responseBytes: responseBytes)
            if !changed[index] {
                changed[index] = true
                changedIndices.append(index)
            }
        }

        mutating func takeChangedKeys(into keys: inout Set<TrafficKey>) {
            for index in changedIndices {
                changed[index] = false
                keys.insert(self.keys[index])
            }
            changedIndices.removeAll(keepingCapacity: true)
        }

        func series() -> [TrafficKey: TrafficCounters] {
            indices.mapValues { counters[$0] }
        }
    }
}

/// The last two series one connection counted and where their counters are in its shard. A connection's requests
/// mostly end in the same few series, found here by the target's identity and a few integers: no hash of the
/// series and no lookup in the shard's map (a twentieth of a request's instructions). A series' counters never
/// move once added, so a remembered index stays right.
struct SeriesMemo {
    private var newer: (series: RoutedSeries, index: Int)?
    private var older: (series: RoutedSeries, index: Int)?

    func index(of series: RoutedSeries) -> Int? {
        if let newer, newer.series == series { return newer.index }
        if let older, older.series == series { return older.index }
        return nil
    }

    mutating func remember(_ series: RoutedSeries, at index: Int) {
        older = newer
        newer = (series, index)
    }
}

/// Where a proxied request went and how it ended, compared by the route target's identity and a few integers:
/// what identifies its series as cheaply as a request can. It holds its target, so the target's address is
/// never reused by another while the entry lives.
struct RoutedSeries: Hashable {
    let target: RouteTable.Target
    let endpoint: Int
    let code: Int
    let flag: ResponseFlag
    let grpcStatus: String?

    static func == (left: RoutedSeries, right: RoutedSeries) -> Bool {
        left.target === right.target && left.endpoint == right.endpoint && left.code == right.code && left.flag == right.flag
            && left.grpcStatus == right.grpcStatus
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(ObjectIdentifier(target))
        hasher.combine(endpoint &* 1024 &+ code)
        hasher.combine(flag)
    }
}
