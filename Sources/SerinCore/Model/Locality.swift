/// Where an endpoint, or the gateway itself, runs: Istio's `region/zone/subzone`. Locality load balancing sends
/// requests to the endpoints nearest the gateway while enough of them are healthy, and fails over outward.
public struct Locality: Hashable, Sendable, Codable, CustomStringConvertible {
    public var region: String
    public var zone: String
    public var subzone: String

    public init(region: String, zone: String = "", subzone: String = "") {
        self.region = region
        self.zone = zone
        self.subzone = subzone
    }

    /// `us-east1`, `us-east1/us-east1-b` or `us-east1/us-east1-b/rack4`, as Istio writes a locality; nil for text
    /// with more than three parts or an empty one before the last given.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard (1...3).contains(parts.count), !parts[0].isEmpty, !parts.dropLast().contains(where: \.isEmpty) else { return nil }
        self.init(region: parts[0], zone: parts.count > 1 ? parts[1] : "", subzone: parts.count > 2 ? parts[2] : "")
    }

    public var description: String {
        [region, zone, subzone].reversed().drop { $0.isEmpty }.reversed().joined(separator: "/")
    }

    /// The labels Istio gives a workload at this locality, which `failoverPriority` can name:
    /// `topology.kubernetes.io/region`, `topology.kubernetes.io/zone` and `topology.istio.io/subzone`, each when set.
    public var topologyLabels: [String: String] {
        let pairs = [("topology.kubernetes.io/region", region), ("topology.kubernetes.io/zone", zone), ("topology.istio.io/subzone", subzone)]
        return Dictionary(uniqueKeysWithValues: pairs.filter { !$0.1.isEmpty })
    }

    /// How far `endpoint` is from this locality, as Istio ranks it for failover: 0 the same subzone, 1 the same zone,
    /// 2 the same region, 3 another region (an endpoint with no locality is in none of them), and 4 another region
    /// than the one a `failover` entry from this region names.
    public func distance(to endpoint: Locality?, failover: [LocalityLoadBalancing.Failover]) -> Int {
        let other = endpoint ?? Locality(region: "")
        guard region == other.region else {
            guard let rule = failover.first(where: { $0.from == region }) else { return 3 }
            return other.region == rule.to ? 3 : 4
        }
        guard zone == other.zone else { return 2 }
        return subzone == other.subzone ? 0 : 1
    }
}

/// A DestinationRule's `loadBalancer.localityLbSetting`, the parts the gateway applies: whether locality failover is
/// on (Istio's mesh default), and which region each region fails over to first.
public struct LocalityLoadBalancing: Hashable, Sendable, Codable {
    /// `enabled: false` turns locality load balancing off for the destination.
    public var enabled: Bool
    public var failover: [Failover]
    /// `failoverPriority`: labels, in order, an endpoint ranks higher for sharing with the gateway (`key`, the
    /// gateway's own value, from its locality's `topologyLabels`; or `key=value`, that value).
    public var failoverPriority: [String]

    /// `failover` entry: traffic from the gateway in region `from` leaving its region goes to region `to` first.
    public struct Failover: Hashable, Sendable, Codable {
        public var from: String
        public var to: String

        public init(from: String, to: String) {
            self.from = from
            self.to = to
        }
    }

    /// `distribute`: for a gateway in `from`, the share of requests each locality pattern in `to` takes.
    public var distribute: [Distribute]

    /// `distribute` entry: patterns `region/zone/subzone`, each part a name or `*` (a zone or subzone left out
    /// matches any), as Istio matches them.
    public struct Distribute: Hashable, Sendable, Codable {
        public var from: String
        /// Locality patterns and their weights, in the order written; the weights add to 100.
        public var to: [Share]

        public struct Share: Hashable, Sendable, Codable {
            public var locality: String
            public var weight: Int

            public init(locality: String, weight: Int) {
                self.locality = locality
                self.weight = weight
            }
        }

        public init(from: String, to: [Share]) {
            self.from = from
            self.to = to
        }
    }

    public init(enabled: Bool = true, failover: [Failover] = [], failoverPriority: [String] = [], distribute: [Distribute] = []) {
        self.enabled = enabled
        self.failover = failover
        self.failoverPriority = failoverPriority
        self.distribute = distribute
    }

    /// Whether `pattern` (`us-east1/*`, `us-east1`, `*`) matches `locality`, as Istio's LocalityMatch: the region
    /// equal or `*`, a zone or subzone equal, `*` or left out.
    public static func matches(_ pattern: String, _ locality: Locality) -> Bool {
        let parts = pattern.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        func part(_ index: Int) -> String { index < parts.count ? parts[index] : "" }
        return (part(0) == "*" || part(0) == locality.region)
            && (["*", ""].contains(part(1)) || part(1) == locality.zone)
            && (["*", ""].contains(part(2)) || part(2) == locality.subzone)
    }

    /// Each endpoint's weight under `distribute`, as Istio writes locality weights: the first entry whose `from`
    /// matches `gateway`; each `to` pattern, in order, claims the localities it matches that no earlier one did, and
    /// shares its weight among them by their own weights (the sums of their endpoints'), rounded up; an endpoint's
    /// weight is its share of its locality's, in hundredths. Nil for an endpoint no pattern claims, which takes no
    /// requests; nil as a whole when no entry applies.
    public func distributedWeights(of endpoints: [(locality: Locality?, weight: Int)], from gateway: Locality) -> [Int?]? {
        guard enabled, let entry = distribute.first(where: { Self.matches($0.from, gateway) }) else { return nil }
        let groups = endpoints.map { $0.locality ?? Locality(region: "") }
        var groupWeight: [Locality: Int] = [:]
        for (group, endpoint) in zip(groups, endpoints) { groupWeight[group, default: 0] += max(endpoint.weight, 1) }
        var localityWeight: [Locality: Double] = [:]
        for share in entry.to {
            let claimed = groupWeight.keys.filter { localityWeight[$0] == nil && Self.matches(share.locality, $0) }
            let total = claimed.reduce(0) { $0 + groupWeight[$1]! }
            for group in claimed {
                localityWeight[group] = (Double(groupWeight[group]! * share.weight) / Double(max(total, 1))).rounded(.up)
            }
        }
        return zip(groups, endpoints).map { group, endpoint in
            guard let weight = localityWeight[group], weight > 0 else { return nil }
            return max(1, Int((weight * Double(max(endpoint.weight, 1)) / Double(groupWeight[group]!) * 100).rounded()))
        }
    }
}

/// Envoy's priority levels, as Istio assigns them to a cluster's endpoints by locality, and the share of requests
/// each level takes from how many of its endpoints are healthy.
public enum PriorityLevels {
    /// Each endpoint's level, 0 the nearest, numbered without gaps as Istio renumbers them: from the endpoints'
    /// localities against `gateway`'s; with `failoverPriority`, by how many of its labels, in order, an endpoint
    /// shares with the gateway (all: 0; the first differing at position j of n: n - j), and then, with `failover`
    /// entries too, by distance within each of those ranks. Empty when they are all on one level (balanced as one).
    public static func levels(
        of endpoints: [(locality: Locality?, labels: [String: String])], from gateway: Locality, setting: LocalityLoadBalancing
    ) -> [Int] {
        let distances = endpoints.map { gateway.distance(to: $0.locality, failover: setting.failover) }
        var ranks = distances
        if !setting.failoverPriority.isEmpty {
            let byLabels = endpoints.map { endpoint in
                labelRank(endpoint.labels.merging(endpoint.locality?.topologyLabels ?? [:]) { own, _ in own }, gateway: gateway, priority: setting.failoverPriority)
            }
            // As Istio: five distance ranks under each label rank when failover entries are given too.
            ranks = setting.failover.isEmpty ? byLabels : zip(byLabels, distances).map { $0 * 5 + $1 }
        }
        let used = Set(ranks).sorted()
        guard used.count > 1 else { return [] }
        let level = Dictionary(uniqueKeysWithValues: used.enumerated().map { ($1, $0) })
        return ranks.map { level[$0]! }
    }

    /// An endpoint's rank by `failoverPriority`: 0 when it has every label's value the gateway has (a `key=value`
    /// entry names the value itself), else the number of labels less the position of the first it differs on.
    static func labelRank(_ labels: [String: String], gateway: Locality, priority: [String]) -> Int {
        let own = gateway.topologyLabels
        for (position, entry) in priority.enumerated() {
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let wanted = parts.count == 2 ? parts[1] : own[parts[0]]
            if labels[parts[0]] != wanted { return priority.count - position }
        }
        return 0
    }

    /// Envoy's overprovisioning factor, 1.4: a level keeps all its load while 5 in 7 of its endpoints are healthy.
    public static let overprovisioningPercent = 140

    /// The percent of requests each level takes, by Envoy's priority load: each level's health is its healthy share
    /// times 1.4, at most 100%; the nearest level takes its health, the next what is left up to its own, and so on,
    /// scaled up when all the levels' health adds to less than 100%. Nil when no endpoint is healthy.
    public static func loads(healthy: [Int], total: [Int]) -> [Int]? {
        let health = zip(healthy, total).map { healthy, total in
            total > 0 ? min(100, overprovisioningPercent * healthy / total) : 0
        }
        let totalHealth = min(100, health.reduce(0, +))
        guard totalHealth > 0 else { return nil }
        var remaining = 100
        var loads = health.map { health -> Int in
            let load = min(remaining, health * 100 / totalHealth)
            remaining -= load
            return load
        }
        // What integer division left over goes to the nearest level that is healthy, as Envoy assigns it.
        if remaining > 0, let first = health.firstIndex(where: { $0 > 0 }) { loads[first] += remaining }
        return loads
    }

    /// The level a request takes for `draw` in 0..<100, by `loads`.
    public static func level(forDraw draw: Int, loads: [Int]) -> Int {
        var cumulative = 0
        for (level, load) in loads.enumerated() {
            cumulative += load
            if draw < cumulative { return level }
        }
        return loads.lastIndex { $0 > 0 } ?? 0
    }
}
