import RealModule

/// Istio's `trafficPolicy.loadBalancer`: how the gateway spreads a cluster's requests over its endpoints. Without it,
/// and with `LEAST_REQUEST` (Istio's default), requests take the endpoints in turn but pass over a busier one
/// (`Cluster.balancesByLoad`); `ROUND_ROBIN` takes them strictly in turn; `RANDOM` draws one; `consistentHash` keeps
/// the requests that share a key (a header, a cookie, the client's address, a query parameter) on one endpoint while
/// the endpoints stay the same.
public struct LoadBalancerSettings: Hashable, Sendable, Codable {
    /// Istio's `simple`.
    public enum Simple: String, Hashable, Sendable, Codable, CaseIterable {
        case roundRobin = "ROUND_ROBIN"
        case leastRequest = "LEAST_REQUEST"
        case random = "RANDOM"
    }

    /// What `consistentHash` hashes.
    public enum HashKey: Hashable, Sendable, Codable {
        /// `httpHeaderName`: the header's value, lower-cased name.
        case header(String)
        /// `httpCookie`: the cookie's value; without the cookie and with `ttl`, the gateway makes one (from the
        /// client's address) and sets it on the answer, as Envoy does, so the client's next requests carry it, with
        /// `attributes` (`SameSite=Lax`, `Secure`) written on that cookie.
        case cookie(name: String, path: String?, ttl: Duration?, attributes: [CookieAttribute] = [])
        /// `useSourceIp`: the client's address.
        case sourceIP
        /// `httpQueryParameterName`: the query parameter's value.
        case queryParameter(String)
    }

    /// One of `httpCookie.attributes`: written `; name=value` on a cookie the gateway makes, or `; name` without a value.
    public struct CookieAttribute: Hashable, Sendable, Codable {
        public var name: String
        public var value: String

        public init(name: String, value: String = "") {
            self.name = name
            self.value = value
        }
    }

    public var simple: Simple?
    public var consistentHash: HashKey?
    /// `localityLbSetting`; nil is Istio's mesh default, locality failover on.
    public var locality: LocalityLoadBalancing?
    /// `warmup` (or the older `warmupDurationSecs`): endpoints new to the cluster take a growing share.
    public var warmup: Warmup?

    public init(simple: Simple? = nil, consistentHash: HashKey? = nil, locality: LocalityLoadBalancing? = nil, warmup: Warmup? = nil) {
        self.simple = simple
        self.consistentHash = consistentHash
        self.locality = locality
        self.warmup = warmup
    }

    /// Istio's `warmup`, Envoy's slow start: for `duration` after an endpoint joins the cluster, its weight is scaled
    /// by `(time since it joined / duration)^(1 / aggression)`, never under `minimumPercent` of it, so a new
    /// endpoint's share grows from a trickle to its full one. For `ROUND_ROBIN` and `LEAST_REQUEST`, as in Istio.
    public struct Warmup: Hashable, Sendable, Codable {
        public var duration: Duration
        public var minimumPercent: Double
        public var aggression: Double

        /// Istio's defaults: 10% at least, and a linear ramp.
        public init(duration: Duration, minimumPercent: Double = 10, aggression: Double = 1) {
            self.duration = duration
            self.minimumPercent = minimumPercent
            self.aggression = aggression
        }

        /// The share of its weight an endpoint takes `age` after it joined (Envoy counts at least a second): 1 once the
        /// window has passed.
        public func factor(age: Duration) -> Double {
            guard duration > .zero, age < duration else { return 1 }
            let time = max(age, .seconds(1)) / duration
            return min(1, max(minimumPercent / 100, Double.pow(time, 1 / max(aggression, 0.000_001))))
        }

        /// What an endpoint of weight `weight` weighs in a draw `age` after it joined: its weight scaled by
        /// `factor(age:)`; by load (`LEAST_REQUEST`, `inFlight` given), that divided by its requests in flight plus
        /// one, as Envoy weighs hosts whose weights differ (active request bias 1) under slow start. So an endpoint
        /// warming up still takes a small share, and takes more while the others are busy.
        public func weight(_ weight: Int, age: Duration, inFlight: Int? = nil) -> Double {
            Double(weight) * factor(age: age) / Double((inFlight ?? 0) + 1)
        }
    }
}

/// The endpoint a hashed key goes to: the same key to the same endpoint for as long as the endpoints stay, and, when
/// one is added or removed, only about a share of the keys moving (Lamping and Veach's jump consistent hash).
public enum ConsistentHash {
    /// A stable 64-bit hash of `key`'s bytes: the same on every run and every machine, unlike Swift's seeded
    /// `Hasher`, so a key keeps its endpoint across restarts.
    @inlinable
    public static func hash<Bytes: Sequence<UInt8>>(_ key: Bytes) -> UInt64 {
        SplitMix64.mix(FNV1a.hash(key))
    }

    /// The bucket in `0..<buckets` for `key`.
    public static func bucket(_ key: UInt64, buckets: Int) -> Int {
        guard buckets > 1 else { return 0 }
        var key = key
        var bucket: Int64 = -1
        var next: Int64 = 0
        while next < Int64(buckets) {
            bucket = next
            key = key &* 2_862_933_555_777_941_757 &+ 1
            next = Int64(Double(bucket + 1) * (Double(Int64(1) << 31) / Double((key >> 33) + 1)))
        }
        return Int(bucket)
    }

    /// The endpoint for `key` among `count`, passing over those `isOut` says are out: the key's own bucket when it is
    /// in, else the first in of the key's next choices (so a key whose endpoint is ejected goes to one other endpoint,
    /// always the same one, and comes back when it returns). Nil when every endpoint is out or there are none.
    ///
    /// With `weights` (ServiceEntry endpoint weights that differ; nil when they are all alike), each endpoint takes its
    /// weight's share of the keys, as Envoy's ring hash gives a heavier host more of the ring: weighted rendezvous
    /// hashing, each endpoint scoring the key by its weight and a hash of the pair, the highest score in taking it.
    /// A weight changed, or an endpoint added or removed, moves only keys to or from that endpoint.
    public static func endpoint(for key: UInt64, count: Int, weights: [Int]? = nil, isOut: (Int) -> Bool) -> Int? {
        guard count > 0 else { return nil }
        if let weights, weights.count == count { return rendezvous(key, weights: weights, isOut: isOut) }
        var probe = key
        for _ in 0..<(count * 4) {
            let candidate = bucket(probe, buckets: count)
            if !isOut(candidate) { return candidate }
            probe = SplitMix64.mix(probe &+ 0x9E37_79B9_7F4A_7C15)
        }
        return (0..<count).first { !isOut($0) }
    }

    /// Weighted rendezvous hashing: the endpoint in whose score `weight / -ln(u)` is highest, `u` in (0, 1) a stable
    /// hash of the key and the endpoint's index; an endpoint out is passed over, so the key goes to its next highest.
    static func rendezvous(_ key: UInt64, weights: [Int], isOut: (Int) -> Bool) -> Int? {
        var best: (index: Int, score: Double)?
        for (index, weight) in weights.enumerated() where weight > 0 && !isOut(index) {
            let hash = SplitMix64.mix(key ^ SplitMix64.mix(UInt64(index) &+ 0x9E37_79B9_7F4A_7C15))
            let unit = (Double(hash >> 11) + 0.5) / Double(UInt64(1) << 53)
            let score = Double(weight) / -Double.log(unit)
            if score > best?.score ?? 0 { best = (index, score) }
        }
        return best?.index
    }
}

/// A choice in proportion to weights, by a uniform 64-bit draw: the same draw and weights pick the same index.
public enum WeightedDraw {
    /// The index whose share of the total `draw` falls in; nil when every weight is 0.
    public static func index(in weights: [Double], draw: UInt64) -> Int? {
        let total = weights.reduce(0, +)
        guard total > 0 else { return nil }
        var point = Double(draw >> 11) / Double(UInt64(1) << 53) * total
        for (index, weight) in weights.enumerated() where weight > 0 {
            if point < weight { return index }
            point -= weight
        }
        return weights.lastIndex { $0 > 0 }
    }
}
