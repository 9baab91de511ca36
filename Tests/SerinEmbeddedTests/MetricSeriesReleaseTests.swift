import SerinCore
@testable import SerinServer
import SerinTesting
import Testing

/// `/canaries/NAME/metrics?rollout=`: the charts show one release, the current one unless asked for another.
@Suite("Metric series by release")
struct MetricSeriesReleaseTests {
    static let web = ResourceName(namespace: "default", name: "web")

    static func release(at seconds: Int, _ version: String) -> Release {
        Release(stable: Destination(host: "web-v1-service"), canary: Destination(host: "web-\(version)-service"),
                startedAt: RolloutInstant(sinceEpoch: .seconds(seconds)))
    }

    static let releases = [release(at: 0, "v2"), release(at: 100, "v3"), release(at: 200, "v4")]
    static let measurements = [10, 90, 110, 150, 210, 250].map { seconds in
        RecordedMeasurement(
            canary: web, instant: RolloutInstant(sinceEpoch: .seconds(seconds)), metric: "request-success-rate", canaryValue: 100,
            stableValue: 100, canaryRequests: 10, stableRequests: 90, canaryWeight: 10, verdict: .pass)
    }

    static func seconds(_ query: String?) -> [Int64]? {
        guard case .success(let chosen) = ControllerAdmin.release(query, of: measurements, releases: releases) else { return nil }
        return chosen.map { $0.instant.sinceEpoch.components.seconds }
    }

    @Test("by default, and with current, the newest release; N is N releases back; all is every one kept", arguments: [
        (nil as String?, [210, 250] as [Int64]), ("current", [210, 250]), ("0", [210, 250]), ("1", [110, 150]), ("2", [10, 90]),
        ("all", [10, 90, 110, 150, 210, 250]),
    ])
    func picksTheRelease(query: String?, expected: [Int64]) {
        #expect(Self.seconds(query) == expected)
    }

    @Test("a release the Canary does not remember is not found; a value that is not one is refused with what to send", arguments: [
        ("3", 404, "rollout=3: the Canary remembers 3 releases (0 is the current one)"),
        ("-1", 400, "rollout=-1: expected current, all, or how many releases back (0 is the current one)"),
        ("latest", 400, "rollout=latest: expected current, all, or how many releases back (0 is the current one)"),
    ])
    func refuses(query: String, status: Int, expected: String) {
        guard case .failure(let refusal) = ControllerAdmin.release(query, of: Self.measurements, releases: Self.releases) else {
            Issue.record("rollout=\(query) was accepted")
            return
        }
        #expect(refusal.status == status)
        #expect(refusal.error.error == expected)
    }
}
