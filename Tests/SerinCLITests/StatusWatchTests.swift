import Foundation
@testable import SerinCLI
import SerinCore
import SerinManifests
import SerinTesting
import Testing

/// `serin status NAME --watch` against a running `serin demo`: plain lines on a pipe, one line redrawn in place on a
/// terminal, both ending with the rollout.
@Suite("serin status --watch", .timeLimit(.minutes(3)))
struct StatusWatchTests {
    @Test("follows the demo's rollout step by step to Succeeded: a new line per change on a pipe, one line redrawn on a terminal")
    func followsTheRollout() async throws {
        // The demo's own steps, judged with a p99 bound a starved machine cannot break (the demo's 250ms can be, by a
        // test run sharing two cores): what is under test is the watch, not the judge.
        let directory = try SerinProcess.temporaryDirectory()
        let canary = SeedManifests.canary(interval: "4s", stepWeights: [20, 40, 60, 80], minRequests: 10, progressDeadline: "60s")
        try canary.text.write(to: directory.appendingPathComponent("canary.yaml"), atomically: true, encoding: .utf8)
        let demo = try SerinProcess.launch([
            "demo", "--canary", directory.path, "--keep-running", "--admin", "127.0.0.1:0", "--port-offset", "27400",
            "--app-port-offset", "9400",
        ])
        let marker = "serin demo: dashboard on "
        let started = await eventually(.seconds(60)) { demo.printed.contains(marker) || !demo.isRunning }
        guard started, let range = demo.printed.range(of: marker) else {
            await demo.kill(SIGKILL)
            Issue.record("the demo did not start: \(await demo.outputText())")
            return
        }
        let server = String(demo.printed[range.upperBound...].prefix { !$0.isWhitespace }).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        // The same watch twice at once: on a pipe, and on a terminal `script` gives it.
        async let piped = SerinProcess.run(["status", "web", "-w", "--server", server], timeout: .seconds(120))
        // An 80-column terminal: the line, longer than that, is cut to fit rather than wrapped.
        let command = "stty cols 80 rows 30; " + [SerinProcess.executable.path, "status", "web", "-w", "--server", server].joined(separator: " ")
        async let terminal = SerinProcess.run(
            ["-qfec", command, "/dev/null"], program: URL(fileURLWithPath: "/usr/bin/script"), timeout: .seconds(120))
        let (plain, drawn) = try await (piped, terminal)
        await demo.kill(SIGTERM)

        #expect(plain.status == 0, "\(plain.stderr)")
        let lines = plain.stdout.split(separator: "\n")
        // It joins wherever the rollout is (on a busy machine, past the first step) and sees every later step.
        let progressing = lines.filter { $0.contains("· Progressing step ") }
        #expect(progressing.count >= 2 && progressing.last?.contains("canary 80% · Progressing step 4/4") == true, "\(plain.stdout)")
        #expect(lines.dropLast().last?.contains("promoted: web-v2-service:80 is the stable, 100% · Succeeded") == true, "\(plain.stdout)")
        // Then how it ended, in the rollout's words.
        #expect(lines.last?.hasPrefix("  web: promotion completed: all traffic on canary web-v2-service:80") == true, "\(plain.stdout)")
        #expect(lines.contains { $0.contains("ok 100.0%") && $0.contains("request-success-rate pass") }, "\(plain.stdout)")
        #expect(!plain.stdout.contains("\u{1B}["), "no terminal codes on a pipe")

        #expect(drawn.status == 0, "\(drawn.stderr)")
        #expect(drawn.stdout.contains("\r\u{1B}[2K"), "redrawn in place: \(drawn.stdout.debugDescription)")
        #expect(drawn.stdout.contains("Succeeded"), "\(drawn.stdout)")
        // Every drawing but the last, which is left whole once the watch ends.
        let drawings = drawn.stdout.components(separatedBy: "\r\u{1B}[2K").dropFirst().dropLast().map { $0.trimmingCharacters(in: .newlines) }
        #expect(!drawings.isEmpty && drawings.allSatisfy { $0.count <= 79 }, "\(drawings.map(\.count)): \(drawings)")
        #expect(drawings.contains { $0.hasSuffix("…") }, "\(drawings)")
    }

    @Test("the live line is cut to the terminal's width, its last column left free, and ends in … when cut; without a width it is whole")
    func lineFitsTheTerminal() {
        let line = String(repeating: "#", count: 100)
        #expect(Terminal.fitted(line, columns: 80) == String(repeating: "#", count: 78) + "…")
        #expect(Terminal.fitted(line, columns: 80).count == 79)
        #expect(Terminal.fitted("short", columns: 80) == "short")
        #expect(Terminal.fitted(String(repeating: "#", count: 79), columns: 80).count == 79)
        #expect(Terminal.fitted(line, columns: nil) == line)
    }

    @Test("after a rollback too the numbers are named the last check's: what serves now is the stable alone")
    func rolledBackLineSaysLastCheck() throws {
        let name = ResourceName(name: "web")
        let start = RolloutInstant(sinceEpoch: .seconds(1_000_000))
        var rollout = try RolloutFixture.midRollout(name, start: start).rollout
        let later = RolloutInstant(sinceEpoch: start.sinceEpoch + .seconds(100))
        _ = rollout.abort(now: later)
        _ = rollout.weightsApplied(rollout.split, now: later)
        #expect(rollout.status.phase == .failed)
        let measurement = RecordedMeasurement(
            canary: name, instant: RolloutInstant(sinceEpoch: start.sinceEpoch + .seconds(90)), metric: "request-success-rate",
            canaryValue: 80, stableValue: 99, canaryRequests: 500, stableRequests: 100, canaryWeight: 50, window: .seconds(10), verdict: .pass)
        let line = StatusWatch.line(CanaryStatus(rollout: rollout, measurements: [measurement]))
        #expect(line.contains("· Failed ") && line.contains(" · last check: "), "\(line)")
    }

    @Test("a promotion whose last weights the router has not answered, or refuses, does not end the watch, and a refused one is not shown as handed over; once they apply it is and it does")
    func refusedPromotionKeepsWatching() throws {
        let name = ResourceName(name: "web")
        let start = RolloutInstant(sinceEpoch: .seconds(1_000_000))
        var rollout = try RolloutFixture.promoted(name, start: start)
        // Sent, not yet answered: the watch waits for the router's answer.
        let sent = CanaryStatus(rollout: rollout, measurements: [])
        #expect(sent.phase == .succeeded && sent.weightsPending == true && sent.weightsRefused == nil, "\(sent)")
        #expect(!StatusWatch.isOver(sent))
        #expect(RolloutCommand.promote.said(phase: "Succeeded", weightsPending: true) == "promoting")
        let later = RolloutInstant(sinceEpoch: start.sinceEpoch + .seconds(1_000))
        _ = rollout.weightsFailed(rollout.split, reason: "web-v2-service has no endpoints", now: later)
        let v2 = RolloutFixture.destination(of: name, "v2").description
        let refused = CanaryStatus(rollout: rollout, measurements: [])
        #expect(refused.phase == .succeeded && refused.promoted == nil && refused.weightsLabel == "0/100 (refused)", "\(refused)")
        #expect(StatusWatch.line(refused).contains("canary 100% (refused) · Succeeded"), "\(StatusWatch.line(refused))")
        #expect(!StatusWatch.isOver(refused))
        _ = rollout.weightsApplied(rollout.split, now: later)
        let applied = CanaryStatus(rollout: rollout, measurements: [])
        #expect(StatusWatch.line(applied).contains("promoted: \(v2) is the stable, 100% · Succeeded"), "\(StatusWatch.line(applied))")
        #expect(applied.weightsPending == nil && applied.weightsRefused == nil, "\(applied)")
        #expect(StatusWatch.isOver(applied))
    }

    @Test("after a promotion the line says what serves, as serin status does (the promoted version, the stable now, at 100%), and each side of the last check is named for the version it measured")
    func promotedLineNamesEachVersion() throws {
        let name = ResourceName(name: "web")
        let start = RolloutInstant(sinceEpoch: .seconds(1_000_000))
        let rollout = try RolloutFixture.promoted(name, start: start)
        let measurement = RecordedMeasurement(
            canary: name, instant: RolloutInstant(sinceEpoch: start.sinceEpoch + .seconds(90)), metric: "request-success-rate",
            canaryValue: 100, stableValue: 99, canaryRequests: 500, stableRequests: 100, canaryWeight: 50, window: .seconds(10), verdict: .pass)
        let status = CanaryStatus(rollout: rollout, measurements: [measurement])
        let (v1, v2) = (RolloutFixture.destination(of: name, "v1").description, RolloutFixture.destination(of: name, "v2").description)
        // The API's stable after the promotion is v2; the measurement's stable side is v1's traffic.
        #expect(status.phase == .succeeded && status.stable == v2 && status.canary == v2, "\(status)")
        let line = StatusWatch.line(status)
        #expect(line.hasPrefix("[####################] promoted: \(v2) is the stable, 100% · Succeeded step 2/3 · failed 1/3 · last check: "), "\(line)")
        #expect(!line.contains("canary 100%"), "\(line)")
        #expect(line.contains(" · last check: \(v1) 10/s ok 99.0% p99 - | \(v2) 50/s ok 100.0% p99 - · request-success-rate pass"), "\(line)")
    }

    @Test("the canary's numbers of a check on mirrored copies are marked (mirrored) during Flagger's mirroring step and after it, once the weights have risen; a check on live traffic is not marked")
    func mirroredNumbersMarked() throws {
        let name = ResourceName(name: "web")
        var spec = try RolloutFixture.spec(name, weights: [20, 60])
        spec.analysis.schedule = try WeightSchedule(mirroringFirst: spec.analysis.schedule)
        spec.analysis.mirror = .all
        var rollout = try Rollout(spec: spec)
        func at(_ seconds: Int64) -> RolloutInstant { RolloutInstant(sinceEpoch: .seconds(1_000 + seconds)) }
        _ = rollout.start(now: at(0))
        func measured(_ metric: String, value: Double, weight: Int, mirrored: Bool, at seconds: Int64) -> RecordedMeasurement {
            RecordedMeasurement(
                canary: name, instant: at(seconds), metric: metric, canaryValue: value, stableValue: 99, canaryRequests: 300,
                stableRequests: 300, canaryWeight: weight, window: .seconds(10), verdict: .pass, mirrored: mirrored)
        }
        let onCopies = [measured("request-success-rate", value: 100, weight: 0, mirrored: true, at: 30),
                        measured("request-duration", value: 7, weight: 0, mirrored: true, at: 30)]
        let v2 = RolloutFixture.destination(of: name, "v2").description

        let mirroring = StatusWatch.line(CanaryStatus(rollout: rollout, measurements: onCopies))
        #expect(mirroring.contains("canary 0% · mirror 100% copied"), "\(mirroring)")
        #expect(mirroring.contains("| \(v2) (mirrored) 30/s ok 100.0% p99 7ms ·"), "\(mirroring)")

        _ = rollout.tick(now: at(30))
        _ = rollout.analysisCompleted(verdict: .pass, now: at(31))
        let risen = StatusWatch.line(CanaryStatus(rollout: rollout, measurements: onCopies))
        #expect(risen.contains("canary 20% · Progressing") && !risen.contains("copied"), "\(risen)")
        #expect(risen.contains("| \(v2) (mirrored) 30/s ok 100.0% p99 7ms ·"), "still the mirrored check's numbers: \(risen)")

        let live = StatusWatch.line(CanaryStatus(rollout: rollout, measurements: [
            measured("request-success-rate", value: 98, weight: 20, mirrored: false, at: 61),
        ]))
        #expect(live.contains("| \(v2) 30/s ok 98.0% p99 -"), "\(live)")
        #expect(!live.contains("(mirrored)"), "\(live)")
    }

    @Test("--watch needs one Canary's name and a table, and refuses the cluster options")
    func refusals() async throws {
        let unnamed = try await SerinProcess.run(["status", "-w"])
        #expect(unnamed.status != 0 && unnamed.stderr.contains("--watch follows one Canary: name it"), "\(unnamed.stderr)")
        let json = try await SerinProcess.run(["status", "web", "-w", "-o", "json"])
        #expect(json.status != 0 && json.stderr.contains("leave out -o json"), "\(json.stderr)")
    }
}
