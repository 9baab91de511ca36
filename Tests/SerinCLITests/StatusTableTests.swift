@testable import SerinCLI
import SerinCore
import SerinTesting
import Testing

/// `serin status`'s table as people read it.
@Suite("serin status table")
struct StatusTableTests {
    @Test("a rollout's message is printed once under the table, named once")
    func messageNamedOnce() throws {
        var status = CanaryStatus(rollout: try RolloutFixture.rollout(ResourceName(name: "web")), measurements: [])
        status.message = "web: advance canary weight to 20%"
        let lines = StatusTable.render([status]).split(separator: "\n")
        #expect(lines.last == "web: advance canary weight to 20%", "\(lines)")
        status.message = "waiting for the primary"
        #expect(StatusTable.render([status]).split(separator: "\n").last == "web: waiting for the primary")
    }
}
