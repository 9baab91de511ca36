import Foundation
import SerinKubernetes
import Testing

/// Two replicas, one Lease: who acts, when the other takes over, and the Lease's wire format.
@Suite("Leader election on a Lease")
struct LeaderElectionTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)
    let a = LeaderElection(identity: "serin-a")
    let b = LeaderElection(identity: "serin-b")

    /// The Lease after `decision` is written.
    func written(_ decision: LeaderElection.Decision) -> LeaderElection.Lease? {
        switch decision {
        case .create(let lease), .update(let lease): lease
        case .follow: nil
        }
    }

    @Test("the first replica creates the Lease; the second follows until it would expire")
    func firstComesLeads() throws {
        let created = try #require(written(a.decide(nil, now: Self.start)))
        #expect(created.holderIdentity == "serin-a")
        #expect(created.leaseDurationSeconds == 15)
        #expect(b.decide(created, now: Self.start.addingTimeInterval(5)) == .follow(holder: "serin-a", until: Self.start.addingTimeInterval(15)))
    }

    @Test("the leader renews; a renewal keeps the follower out, and the holder, acquire time and transitions stay")
    func renewal() throws {
        let created = try #require(written(a.decide(nil, now: Self.start)))
        let renewed = try #require(written(a.decide(created, now: Self.start.addingTimeInterval(10))))
        #expect(renewed.renewTime == Self.start.addingTimeInterval(10))
        #expect(renewed.acquireTime == Self.start)
        #expect(renewed.leaseTransitions == 0)
        #expect(b.decide(renewed, now: Self.start.addingTimeInterval(20)) == .follow(holder: "serin-a", until: Self.start.addingTimeInterval(25)))
    }

    @Test("a leader that stops renewing stops acting before its Lease expires; then the follower takes over")
    func takeover() throws {
        let created = try #require(written(a.decide(nil, now: Self.start)))
        #expect(a.mayAct(lastRenewal: Self.start, now: Self.start.addingTimeInterval(9)))
        #expect(!a.mayAct(lastRenewal: Self.start, now: Self.start.addingTimeInterval(10)))
        let taken = try #require(written(b.decide(created, now: Self.start.addingTimeInterval(15))))
        #expect(taken.holderIdentity == "serin-b")
        #expect(taken.leaseTransitions == 1)
        #expect(taken.acquireTime == Self.start.addingTimeInterval(15))
        // The old leader, back, sees the new holder and follows.
        guard case .follow(holder: "serin-b", _) = a.decide(taken, now: Self.start.addingTimeInterval(16)) else {
            Issue.record("serin-a must follow serin-b")
            return
        }
    }

    @Test("a graceful shutdown releases the Lease so the other replica takes it at once")
    func release() throws {
        let created = try #require(written(a.decide(nil, now: Self.start)))
        #expect(b.release(created, now: Self.start) == nil, "only the holder releases")
        let released = try #require(a.release(created, now: Self.start.addingTimeInterval(3)))
        #expect(released.holderIdentity == nil)
        let taken = try #require(written(b.decide(released, now: Self.start.addingTimeInterval(3))))
        #expect(taken.holderIdentity == "serin-b")
    }

    @Test("the Lease spec round-trips through JSON with MicroTime's six fractional digits")
    func wireFormat() {
        let lease = LeaderElection.Lease(
            holderIdentity: "serin-a", leaseDurationSeconds: 15, acquireTime: Self.start.addingTimeInterval(0.123456),
            renewTime: Self.start.addingTimeInterval(2.5), leaseTransitions: 3
        )
        let json = lease.json
        #expect(json["renewTime"] == "2027-01-15T08:00:02.500000Z")
        #expect(json["acquireTime"] == "2027-01-15T08:00:00.123456Z")
        let back = LeaderElection.Lease(json: json)
        #expect(back.holderIdentity == "serin-a")
        #expect(back.leaseTransitions == 3)
        #expect(abs(back.acquireTime!.timeIntervalSince(lease.acquireTime!)) < 0.000_01)
        #expect(back.renewTime == lease.renewTime)
        #expect(LeaderElection.Lease(json: ["holderIdentity": nil]).holderIdentity == nil)
    }
}
