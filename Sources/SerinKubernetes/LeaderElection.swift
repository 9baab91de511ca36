import Foundation
import SerinCore

/// Leader election on a `coordination.k8s.io/v1` Lease, as client-go's leaderelection does it, decided as a pure
/// function: two controller replicas read the same Lease, and only the one whose write wins (the API server's
/// resourceVersion check) acts; a leader that cannot renew in time stops acting before another can take over.
public struct LeaderElection: Sendable, Equatable {
    public let identity: String
    /// How long a Lease holds without renewal (`leaseDurationSeconds`).
    public let leaseDuration: TimeInterval
    /// How long a leader keeps acting without a successful renewal; shorter than `leaseDuration`, so it has
    /// stopped before anyone else may take the Lease.
    public let renewDeadline: TimeInterval
    /// How often to try to acquire or renew.
    public let retryPeriod: TimeInterval

    public init(identity: String, leaseDuration: TimeInterval = 15, renewDeadline: TimeInterval = 10, retryPeriod: TimeInterval = 2) {
        precondition(renewDeadline < leaseDuration, "renewDeadline must be shorter than leaseDuration")
        self.identity = identity
        self.leaseDuration = leaseDuration
        self.renewDeadline = renewDeadline
        self.retryPeriod = retryPeriod
    }

    /// The fields of a Lease's spec that election reads and writes.
    public struct Lease: Sendable, Equatable {
        public var holderIdentity: String?
        public var leaseDurationSeconds: Int
        public var acquireTime: Date?
        public var renewTime: Date?
        public var leaseTransitions: Int

        public init(
            holderIdentity: String?, leaseDurationSeconds: Int, acquireTime: Date? = nil, renewTime: Date? = nil, leaseTransitions: Int = 0
        ) {
            self.holderIdentity = holderIdentity
            self.leaseDurationSeconds = leaseDurationSeconds
            self.acquireTime = acquireTime
            self.renewTime = renewTime
            self.leaseTransitions = leaseTransitions
        }

        /// When the holder's claim runs out.
        public var expiry: Date? { renewTime.map { $0.addingTimeInterval(TimeInterval(leaseDurationSeconds)) } }
    }

    /// What to do after reading the Lease.
    public enum Decision: Sendable, Equatable {
        /// Create the Lease (none exists) with this spec.
        case create(Lease)
        /// Write this spec over the one read (guarded by its resourceVersion): taking an expired or released
        /// Lease, or renewing our own.
        case update(Lease)
        /// Someone else leads until `until`; try again then (or after `retryPeriod`).
        case follow(holder: String, until: Date)
    }

    public func decide(_ current: Lease?, now: Date) -> Decision {
        let seconds = Int(leaseDuration.rounded(.up))
        guard let current else {
            return .create(Lease(holderIdentity: identity, leaseDurationSeconds: seconds, acquireTime: now, renewTime: now))
        }
        if current.holderIdentity == identity {
            var renewed = current
            renewed.renewTime = now
            renewed.leaseDurationSeconds = seconds
            return .update(renewed)
        }
        if let holder = current.holderIdentity, !holder.isEmpty, let expiry = current.expiry, expiry > now {
            return .follow(holder: holder, until: expiry)
        }
        return .update(
            Lease(
                holderIdentity: identity, leaseDurationSeconds: seconds, acquireTime: now, renewTime: now,
                leaseTransitions: current.leaseTransitions + 1
            )
        )
    }

    /// Whether a leader whose last successful renewal was at `lastRenewal` may still act at `now`.
    public func mayAct(lastRenewal: Date, now: Date) -> Bool {
        now.timeIntervalSince(lastRenewal) < renewDeadline
    }

    /// The spec that hands the Lease back on graceful shutdown, so another replica need not wait for expiry;
    /// nil when this replica does not hold it.
    public func release(_ current: Lease, now: Date) -> Lease? {
        guard current.holderIdentity == identity else { return nil }
        return Lease(
            holderIdentity: nil, leaseDurationSeconds: 1, acquireTime: current.acquireTime, renewTime: now,
            leaseTransitions: current.leaseTransitions
        )
    }
}

extension LeaderElection.Lease {
    /// The Lease's `spec` as the API server reads it (MicroTime: RFC 3339 with microseconds).
    public var json: JSONValue {
        var spec: [String: JSONValue] = [
            "leaseDurationSeconds": .number(Double(leaseDurationSeconds)),
            "leaseTransitions": .number(Double(leaseTransitions)),
        ]
        spec["holderIdentity"] = holderIdentity.map(JSONValue.string) ?? .null
        if let acquireTime { spec["acquireTime"] = .string(Self.microTime(acquireTime)) }
        if let renewTime { spec["renewTime"] = .string(Self.microTime(renewTime)) }
        return .object(spec)
    }

    /// A Lease's `spec` from the API server; nil fields stay nil.
    public init(json spec: JSONValue) {
        self.init(
            holderIdentity: spec["holderIdentity"]?.stringValue,
            leaseDurationSeconds: spec["leaseDurationSeconds"]?.intValue ?? 15,
            acquireTime: spec["acquireTime"]?.stringValue.flatMap(Self.parseMicroTime),
            renewTime: spec["renewTime"]?.stringValue.flatMap(Self.parseMicroTime),
            leaseTransitions: spec["leaseTransitions"]?.intValue ?? 0
        )
    }

    /// A `MicroTime` as Kubernetes writes it: RFC 3339 in UTC with exactly six fractional digits.
    static func microTime(_ date: Date) -> String {
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let fraction = String(micros - seconds * 1_000_000)
        return RFC3339.format(seconds: seconds).dropLast() + "." + String(repeating: "0", count: 6 - fraction.count) + fraction + "Z"
    }

    /// A `MicroTime` (or any RFC 3339 time) as a date, with its fraction.
    static func parseMicroTime(_ text: String) -> Date? {
        RFC3339.unixSeconds(text).map { Date(timeIntervalSince1970: $0) }
    }
}
