import Foundation
import SerinController
import SerinCore
import SerinServer
import SerinSpawn
import SerinTesting
import Testing

/// The controller's `/metrics`: every family's samples together after its HELP and TYPE, with two Canaries in the
/// set (the text format forbids one family's lines among another's), and clean for Prometheus's own checker.
@Suite("Controller metrics exposition")
struct ControllerExpositionTests {
    static let promtool = "/usr/bin/promtool"

    static func statuses() throws -> [CanaryStatus] {
        try [ResourceName(name: "web"), ResourceName(namespace: "shop", name: "cart")].map {
            CanaryStatus(rollout: try RolloutFixture.rollout($0), measurements: [])
        }
    }

    @Test("each metric family's lines come together, after its HELP and TYPE")
    func familiesAreNotInterleaved() throws {
        let text = ControllerExposition.render(try Self.statuses(), tallies: [:])
        var seen: [String] = []
        for line in text.split(separator: "\n") {
            let family: String
            if line.hasPrefix("# ") {
                family = String(line.split(separator: " ")[2])
            } else {
                let name = String(line.prefix { $0 != "{" && $0 != " " })
                family = ["_sum", "_count"].reduce(name) { $0.hasSuffix($1) ? String($0.dropLast($1.count)) : $0 }
            }
            if seen.last != family {
                #expect(!seen.contains(family), "\(family) comes back after \(seen.last ?? ""):\n\(text)")
                seen.append(family)
            }
        }
        #expect(seen.count == 5, "\(seen)")
    }

    @Test(
        "promtool check metrics finds nothing wrong with the controller's families",
        .enabled(if: FileManager.default.isExecutableFile(atPath: promtool) || ProcessInfo.processInfo.environment["CI"] == "true",
                 "promtool is not installed here (apt-get install prometheus); CI runs this")
    )
    func promtoolIsClean() throws {
        let text = ControllerExposition.render(try Self.statuses(), tallies: [:])
        let directory = try SerinProcess.temporaryDirectory()
        let input = directory.appendingPathComponent("metrics.txt")
        let output = directory.appendingPathComponent("promtool.txt")
        try Data(text.utf8).write(to: input)
        FileManager.default.createFile(atPath: output.path, contents: nil)
        let stdin = open(input.path, O_RDONLY)
        let stdout = open(output.path, O_WRONLY)
        defer { close(stdin); close(stdout) }
        let process = try ChildProcess.spawn(
            Self.promtool, arguments: ["check", "metrics"], stdin: .descriptor(stdin), stdout: .descriptor(stdout), stderr: .descriptor(stdout))
        let exit = process.waitUntilExit()
        let said = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        #expect(exit == .exited(0), "promtool: \(said)\n\(text)")
        #expect(said.isEmpty, "promtool: \(said)")
    }
}
