import Foundation
import SerinTesting
import Testing

/// `serin simulate` from the command line: the user's Canary file, synthetic traffic, numbers out.
@Suite("serin simulate", .timeLimit(.minutes(2)))
struct SimulateCommandTests {
    struct Summary: Decodable {
        var trials: Int
        var promoted: Int
        var rolledBack: Int
        var undecided: Int
        var secondsToDecision: Percentiles?

        struct Percentiles: Decodable {
            var p50: Double
            var p90: Double
        }
    }

    static let canary = "examples/canary/web-canary.yaml"

    @Test("-o json prints one object: a canary failing 5% of requests is rolled back in every trial, a healthy one promoted")
    func jsonSummary() async throws {
        let failing = try await SerinProcess.run(["simulate", "-f", Self.canary, "--canary-error-rate", "0.05", "--trials", "200", "-o", "json"])
        #expect(failing.status == 0, "\(failing.stderr)")
        let rolledBack = try JSONDecoder().decode(Summary.self, from: Data(failing.stdout.utf8))
        #expect(rolledBack.trials == 200 && rolledBack.rolledBack == 200 && rolledBack.undecided == 0, "\(failing.stdout)")
        let decided = try #require(rolledBack.secondsToDecision)
        #expect(decided.p50 > 0 && decided.p50 <= decided.p90)

        let healthy = try await SerinProcess.run(["simulate", "-f", Self.canary, "--trials", "200", "-o", "json"])
        let promoted = try JSONDecoder().decode(Summary.self, from: Data(healthy.stdout.utf8))
        #expect(promoted.promoted == 200, "\(healthy.stdout)")
    }

    @Test("the table names the Canary and each ending's share; the same seed prints the same numbers")
    func tableRepeatsWithTheSeed() async throws {
        let arguments = ["simulate", "-f", Self.canary, "--rps", "3", "--canary-error-rate", "0.02", "--trials", "300", "--seed", "7"]
        let first = try await SerinProcess.run(arguments)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.hasPrefix("web: 300 simulated releases\n"), "\(first.stdout)")
        #expect(first.stdout.contains("  rolled back: "))
        #expect(try await SerinProcess.run(arguments).stdout == first.stdout)
    }

    @Test("files without a Canary, and a rate given in percent, are refused with what to do")
    func refusals() async throws {
        let noCanary = try await SerinProcess.run(["simulate", "-f", "examples/seed"])
        #expect(noCanary.status == 1)
        #expect(noCanary.stderr.contains("the files hold no Canary; give one with -f"), "\(noCanary.stderr)")
        let percent = try await SerinProcess.run(["simulate", "-f", Self.canary, "--canary-error-rate", "5"])
        #expect(percent.status != 0)
        #expect(percent.stderr.contains("--canary-error-rate is a fraction between 0 and 1 (0.05 = 5%), got 5.0"), "\(percent.stderr)")
    }
}
