/// Envoy's outlier detection for one cluster, as Istio's `OutlierDetection` configures it: endpoints that fail
/// several times in a row leave the cluster's load balancing for a while, longer each time they are ejected again.
///
/// Pure: the gateway reports each request's outcome and passes `now`, the time since it started, so the same calls
/// always give the same answers. Endpoints are named by their index in the cluster's `endpoints`; a cluster with
/// other endpoints gets a new detector. Ejections end exactly at their deadline, checked when asked, rather than at
/// Envoy's next `interval` sweep, which would keep an endpoint out up to one interval longer.
public struct OutlierDetector: Hashable, Sendable {
    public let policy: OutlierDetection
    /// Envoy's `healthy_panic_threshold`, in percent: when fewer of the endpoints than this are in, requests go to
    /// every endpoint as if none were ejected. 0 never panics: with every endpoint ejected `pick` returns nil.
    public let panicThreshold: Int
    /// Each endpoint's priority level by locality (`Cluster.priorities`); empty: one level. Requests go to the levels
    /// by `PriorityLevels.loads`, so the nearest endpoints take them while enough of them are in.
    public var priorities: [Int] = []
    private var states: [EndpointState]

    /// Envoy's `max_ejection_time`, which Istio leaves at its default: no ejection lasts longer than this, or than
    /// the base ejection time when that is longer.
    public static let defaultMaxEjectionTime: Duration = .seconds(300)

    /// `panicThreshold` defaults to Envoy's 50%. Istio instead sets it to the DestinationRule's `minHealthPercent`,
    /// whose default, 0, turns panic off.
    public init(policy: OutlierDetection, endpointCount: Int, panicThreshold: Int = 50) {
        self.policy = policy
        self.panicThreshold = min(max(panicThreshold, 0), 100)
        self.states = Array(repeating: EndpointState(), count: max(endpointCount, 0))
    }

    public var endpointCount: Int { states.count }

    /// What happened to one request sent to an endpoint. The gateway's own failures count as the status Envoy
    /// answers them with: a failed connect or a reset as 503, a timeout as 504.
    public enum Outcome: Hashable, Sendable {
        case response(status: Int)
        case connectFailure
        case reset
        case timeout

        /// Whether the gateway itself failed to get an answer (Envoy's local-origin errors), rather than the endpoint
        /// answering with a status.
        var isLocalOrigin: Bool {
            if case .response = self { return false }
            return true
        }

        var status: Int {
            switch self {
            case .response(let status): status
            case .connectFailure, .reset: 503
            case .timeout: 504
            }
        }
    }

    /// Why an endpoint was ejected, with the threshold it reached.
    public enum Reason: Hashable, Sendable, CustomStringConvertible {
        case consecutive5xx(Int)
        case consecutiveGatewayErrors(Int)
        case consecutiveLocalOriginFailures(Int)

        public var description: String {
            switch self {
            case .consecutive5xx(let count): "\(count) consecutive 5xx"
            case .consecutiveGatewayErrors(let count): "\(count) consecutive gateway errors"
            case .consecutiveLocalOriginFailures(let count): "\(count) consecutive local-origin failures"
            }
        }
    }

    /// One ejection, for the gateway's log.
    public struct Ejection: Hashable, Sendable, CustomStringConvertible {
        public let endpoint: Int
        public let reason: Reason
        public let since: Duration
        /// When the endpoint is back in load balancing.
        public let until: Duration
        /// How many times this endpoint has been ejected, this one included (Envoy's `num_ejections`).
        public let ejectionCount: Int

        public var duration: Duration { until - since }

        public var description: String {
            "endpoint \(endpoint) ejected for \(Self.format(duration)) after \(reason) (ejection \(ejectionCount))"
        }

        private static func format(_ duration: Duration) -> String {
            let (seconds, attoseconds) = duration.components
            if attoseconds == 0 { return "\(seconds)s" }
            return "\(duration.wholeMilliseconds)ms"
        }
    }

    /// Counts one request's outcome against `endpoint`, and ejects it when a streak reaches its threshold. Returns
    /// the ejection, if any. Outcomes for an endpoint out of range, or ejected (it can still get requests in panic),
    /// are ignored: Envoy clears an endpoint's streaks when it comes back.
    public mutating func record(endpoint: Int, outcome: Outcome, now: Duration) -> Ejection? {
        guard states.indices.contains(endpoint), !states[endpoint].isEjected(at: now) else { return nil }
        if policy.splitExternalLocalOriginErrors {
            // Split, as Envoy's split_external_local_origin_errors: the gateway's own failures have their streak, which
            // an answer (the connection worked) ends; the 5xx streaks see only answers.
            guard outcome.isLocalOrigin else {
                states[endpoint].consecutiveLocalOrigin = 0
                return recordAnswer(endpoint: endpoint, status: outcome.status, now: now)
            }
            states[endpoint].consecutiveLocalOrigin += 1
            let threshold = policy.consecutiveLocalOriginFailures
            guard threshold > 0, states[endpoint].consecutiveLocalOrigin >= threshold else { return nil }
            states[endpoint].consecutiveLocalOrigin = 0
            return eject(endpoint, for: .consecutiveLocalOriginFailures(threshold), now: now)
        }
        return recordAnswer(endpoint: endpoint, status: outcome.status, now: now)
    }

    /// Counts a status (an answer's, or the one a local failure is answered with when not split) on the 5xx streaks.
    private mutating func recordAnswer(endpoint: Int, status: Int, now: Duration) -> Ejection? {
        guard (500..<600).contains(status) else {
            states[endpoint].consecutive5xx = 0
            states[endpoint].consecutiveGatewayErrors = 0
            return nil
        }
        // Envoy checks the gateway streak first; a 5xx that is no gateway error breaks it.
        if (502...504).contains(status) {
            states[endpoint].consecutiveGatewayErrors += 1
            let threshold = policy.consecutiveGatewayErrors
            if threshold > 0, states[endpoint].consecutiveGatewayErrors >= threshold {
                states[endpoint].consecutiveGatewayErrors = 0
                if let ejection = eject(endpoint, for: .consecutiveGatewayErrors(threshold), now: now) {
                    return ejection
                }
            }
        } else {
            states[endpoint].consecutiveGatewayErrors = 0
        }
        states[endpoint].consecutive5xx += 1
        let threshold = policy.consecutive5xxErrors
        if threshold > 0, states[endpoint].consecutive5xx >= threshold {
            states[endpoint].consecutive5xx = 0
            return eject(endpoint, for: .consecutive5xx(threshold), now: now)
        }
        return nil
    }

    public func isEjected(_ endpoint: Int, now: Duration) -> Bool {
        states.indices.contains(endpoint) && states[endpoint].isEjected(at: now)
    }

    public func ejectedCount(now: Duration) -> Int {
        states.reduce(0) { $0 + ($1.isEjected(at: now) ? 1 : 0) }
    }

    /// Whether so few endpoints are in that requests go to all of them.
    public func isInPanic(now: Duration) -> Bool {
        guard !states.isEmpty else { return false }
        return 100 * (states.count - ejectedCount(now: now)) < panicThreshold * states.count
    }

    /// The endpoint for a consistent-hash key (`ConsistentHash.endpoint`, by the endpoints' `weights` when they
    /// differ): its own when that is in, else another that is; in panic, its own whatever its state. Nil when the
    /// cluster has no endpoints, or every endpoint is ejected and the panic threshold is 0. Endpoints `isPassedOver`
    /// is true of (a retry's endpoints already tried) are passed over as if ejected, panic or not.
    public func pick(
        forHash key: UInt64, now: Duration, weights: [Int]? = nil, passingOver isPassedOver: (Int) -> Bool = { _ in false }
    ) -> Int? {
        let inPanic = isInPanic(now: now)
        // By locality: the key's level by its own draw, so a key keeps its level, and its endpoint, while the loads stay.
        let level = inPanic ? nil : self.level(forDraw: Int(SplitMix64.mix(key) % 100), now: now)
        let picked = ConsistentHash.endpoint(for: key, count: states.count, weights: weights) { index in
            isPassedOver(index) || (!inPanic && states[index].isEjected(at: now)) || (level.map { priorities[index] != $0 } ?? false)
        }
        guard picked == nil, level != nil else { return picked }
        return ConsistentHash.endpoint(for: key, count: states.count, weights: weights) { isPassedOver($0) || states[$0].isEjected(at: now) }
    }

    /// The priority level a request with `draw` (0..<100) goes to, by how many of each level's endpoints are in; nil
    /// with one level, or none in. The levels in `leaving` (a retry's, under `retryRemoteLocalities`) count as having
    /// none in, unless that leaves none at all, when they count again (as Envoy's `previous_priorities` resets).
    public func level(forDraw draw: Int, now: Duration, leaving: Set<Int> = []) -> Int? {
        guard !priorities.isEmpty, let top = priorities.max() else { return nil }
        var healthy = Array(repeating: 0, count: top + 1)
        var total = healthy
        for (index, state) in states.enumerated() where index < priorities.count {
            total[priorities[index]] += 1
            if !state.isEjected(at: now) { healthy[priorities[index]] += 1 }
        }
        let elsewhere = healthy.enumerated().map { leaving.contains($0) ? 0 : $1 }
        let loads = PriorityLevels.loads(healthy: elsewhere, total: total) ?? PriorityLevels.loads(healthy: healthy, total: total)
        return loads.map { PriorityLevels.level(forDraw: draw, loads: $0) }
    }

    /// The level of the endpoint at `index`; nil with one level.
    public func level(of index: Int) -> Int? {
        priorities.indices.contains(index) ? priorities[index] : nil
    }

    /// The endpoint for one round-robin turn: round robin over the endpoints that are in, or over all of them in
    /// panic; with a weighted `schedule`, its endpoint for the turn, or the next in it that is in. Nil when the cluster
    /// has no endpoints, or every endpoint is ejected and the panic threshold is 0. The caller owns the turn counter,
    /// as for `Cluster.endpoint(forTurn:)`.
    ///
    /// With priority levels (`priorities`) and not in panic, the turn's level is drawn from the levels' loads (by a
    /// hash of the turn, so turns spread over the levels as the loads say), or is `level` when given (a second choice
    /// to weigh against a first, which stays on the first's level), leaving the levels in `leaving` while another
    /// has endpoints in; then round robin over that level's endpoints that are in.
    public func pick(
        forTurn turn: Int, now: Duration, schedule: EndpointSchedule = .inOrder, level fixed: Int? = nil, leavingLevels leaving: Set<Int> = []
    ) -> Int? {
        let count = states.count
        guard count > 0 else { return nil }
        if !priorities.isEmpty, !isInPanic(now: now),
            let level = fixed ?? level(forDraw: Int(SplitMix64.mix(UInt64(truncatingIfNeeded: turn)) % 100), now: now, leaving: leaving),
            let picked = pick(forTurn: turn, onLevel: level, now: now, schedule: schedule)
        {
            return picked
        }
        if !schedule.order.isEmpty {
            // Weighted: the turn's endpoint in the schedule, or the next in it that is in (any, in panic).
            let inPanic = isInPanic(now: now)
            return schedule.endpoint(forTurn: turn, count: count) { !inPanic && states[$0].isEjected(at: now) }
        }
        let healthy = count - ejectedCount(now: now)
        if healthy == count || 100 * healthy < panicThreshold * count {
            return Int(turn.magnitude % UInt(count))
        }
        guard healthy > 0 else { return nil }
        var remaining = turn.magnitude % UInt(healthy)
        for (index, state) in states.enumerated() where !state.isEjected(at: now) {
            if remaining == 0 { return index }
            remaining -= 1
        }
        return nil
    }

    /// Round robin over the endpoints of `level` that are in (by `schedule` when weighted); nil when none is.
    private func pick(forTurn turn: Int, onLevel level: Int, now: Duration, schedule: EndpointSchedule) -> Int? {
        let isOut = { (index: Int) in index >= priorities.count || priorities[index] != level || states[index].isEjected(at: now) }
        if !schedule.order.isEmpty { return schedule.endpoint(forTurn: turn, count: states.count, skipping: isOut) }
        let candidates = states.indices.reduce(0) { $0 + (isOut($1) ? 0 : 1) }
        guard candidates > 0 else { return nil }
        var remaining = turn.magnitude % UInt(candidates)
        for index in states.indices where !isOut(index) {
            if remaining == 0 { return index }
            remaining -= 1
        }
        return nil
    }

    /// Ejects `endpoint` unless that would put more than `maxEjectionPercent` of the endpoints out (Envoy since 1.27
    /// counts the endpoint about to go: with the default 10%, a cluster needs 10 endpoints for one ejection).
    private mutating func eject(_ endpoint: Int, for reason: Reason, now: Duration) -> Ejection? {
        let maxPercent = min(max(policy.maxEjectionPercent, 0), 100)
        guard 100 * (ejectedCount(now: now) + 1) <= maxPercent * states.count else { return nil }

        let base = policy.baseEjectionTime
        let maxTime = max(Self.defaultMaxEjectionTime, base)
        var state = states[endpoint]
        // Envoy's backoff: one step more per ejection, up to one past the cap, one step less per interval sweep
        // the endpoint has been back for (Envoy returns endpoints at a sweep, so sweeps fall every full interval
        // after the return).
        var backoff = state.backoff
        if let back = state.until {
            let interval = max(policy.interval, .milliseconds(1))
            let sweeps = ((now - back) / interval).rounded(.down)
            backoff = sweeps >= Double(backoff) ? 0 : backoff - Int(sweeps)
        }
        if base * backoff < maxTime + base { backoff += 1 }
        let until = now + min(base * backoff, maxTime)

        state.backoff = backoff
        state.until = until
        state.ejections += 1
        state.consecutive5xx = 0
        state.consecutiveGatewayErrors = 0
        state.consecutiveLocalOrigin = 0
        states[endpoint] = state
        return Ejection(endpoint: endpoint, reason: reason, since: now, until: until, ejectionCount: state.ejections)
    }

    private struct EndpointState: Hashable, Sendable {
        var consecutive5xx = 0
        var consecutiveGatewayErrors = 0
        var consecutiveLocalOrigin = 0
        /// Envoy's `eject_time_backoff`, as it was when the last ejection began.
        var backoff = 0
        /// When the last ejection ends or ended.
        var until: Duration?
        var ejections = 0

        func isEjected(at now: Duration) -> Bool {
            until.map { now < $0 } ?? false
        }
    }
}
