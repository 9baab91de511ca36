import Foundation
import SerinCore
import Testing

/// The status JSON of `GET /canaries/NAME` and `serin status -o json`, as scripts read it.
@Suite("Canary status JSON")
struct CanaryStatusJSONTests {
    /// A rollout one check in: an iteration counted, its phase changed as it started.
    static func status() throws -> CanaryStatus {
        var rollout = try Fixture.rollout()
        _ = rollout.start(now: t(1_800_000_000))
        _ = rollout.tick(now: t(1_800_000_030))
        _ = rollout.analysisCompleted(verdict: .pass, now: t(1_800_000_032))
        return CanaryStatus(rollout: rollout, measurements: [])
    }

    @Test("names the checks run and the last phase change as Flagger's status does: iterations, lastTransitionTime (RFC 3339)")
    func flaggerNames() throws {
        let json = try JSONEncoder().encode(Self.status())
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect(object["iterations"] as? Int == 1)
        #expect(object["lastTransitionTime"] as? String == "2027-01-15T08:00:00Z")
        #expect(object["phase"] as? String == "Progressing")
        #expect(object["failedChecks"] as? Int == 0)
        #expect(object["canaryWeight"] as? Int == 50)
        #expect(object["iteration"] == nil && object["lastTransition"] == nil, "the old names are gone: \(object.keys.sorted())")
    }

    @Test("a status from a server older than those names still decodes: iterations reads 0, lastTransitionTime absent, the rest as sent")
    func olderServer() throws {
        let status = try Self.status()
        var object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(status)) as? [String: Any])
        object["iteration"] = object.removeValue(forKey: "iterations")
        object["lastTransition"] = object.removeValue(forKey: "lastTransitionTime")
        let decoded = try JSONDecoder().decode(CanaryStatus.self, from: JSONSerialization.data(withJSONObject: object))
        #expect(decoded.iterations == 0 && decoded.lastTransitionTime == nil)
        var expected = status
        expected.iterations = 0
        expected.lastTransitionTime = nil
        #expect(decoded == expected)
    }
}
