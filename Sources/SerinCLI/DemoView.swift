import Foundation
import SerinController
import SerinCore
import SerinGateway
import SerinLogging

/// What `serin demo` shows while it runs: event lines, and a live progress line on a terminal
/// (plain timestamped lines instead when output goes to a file or CI log).
final class DemoView: LogOutput, @unchecked Sendable {
    // Called from the controller's logger and the demo loop; every access holds `lock`.
    private let lock = NSLock()
    private let interactive: Bool
    private var progressShown = false
    /// Without a terminal: the rollout's state at the last line written, and when it was written. A line is
    /// written when the state changes, else every `plainInterval`: the traffic numbers alone change every second,
    /// and a log is read line by line.
    private var lastPlainState = ""
    private var lastPlainAt: ContinuousClock.Instant?
    static let plainInterval = Duration.seconds(10)

    init(interactive: Bool) {
        self.interactive = interactive
    }

    /// A log line (timestamped by its handler), above the progress line.
    func write(line: String) {
        lock.lock()
        defer { lock.unlock() }
        clearProgress()
        Terminal.out(line)
    }

    /// The rollout's state and the last seconds of traffic per version.
    func progress(_ status: CanaryStatus, traffic: TrafficWindow, stable: String, canary: String) {
        let sides = [("v1", stable), ("v2", canary)].map { label, host in
            let counts = traffic.traffic(toHost: host)
            let rate = Double(counts.requests) / 2
            let success = counts.requests > 0 ? String(format: "%.1f%%", Double(counts.requests - counts.serverErrors) * 100 / Double(counts.requests)) : "-"
            let p99 = counts.duration.quantile(0.99).map { String(format: "%.0fms", $0) } ?? "-"
            return "\(host) \(String(format: "%.0f", rate))/s ok \(success) p99 \(p99)"
        }
        let line = Self.line(status, sides: sides)
        lock.lock()
        defer { lock.unlock() }
        if interactive {
            Terminal.redraw(line)
            progressShown = true
        } else {
            let state = Self.line(status, sides: [])
            let now = ContinuousClock.now
            guard state != lastPlainState || lastPlainAt.map({ now - $0 >= Self.plainInterval }) ?? true else { return }
            lastPlainState = state
            lastPlainAt = now
            Terminal.out("\(Timestamp.now) \(line)")
        }
    }

    func finishProgress() {
        lock.lock()
        defer { lock.unlock() }
        clearProgress()
    }

    private func clearProgress() {
        if progressShown {
            StandardStream.output.write(Terminal.clearLine)
            progressShown = false
        }
    }

    /// `[####....] canary 20% · Progressing step 1/4 · failed 0/2 · SIDES`: the line `serin demo`, `serin up` and
    /// `serin status -w` draw, each with its own account of the two sides' traffic.
    /// Once promoted: `[....] promoted: web-v2-service:80 is the stable, 100% · Succeeded step 4/4 · …`, as `serin status`
    /// reads it (100/0 beside the new stable).
    static func line(_ status: CanaryStatus, sides: [String]) -> String {
        var weight = status.promoted == true ? "promoted: \(status.stable) is the stable, \(status.stableWeight)%" : "canary \(status.canaryWeight)%"
        // Weights the router refused are what the rollout asks for, not what the routes carry.
        if status.weightsRefused == true { weight += " (refused)" }
        if status.mirrorsNow, let share = status.mirrorWeight { weight += " · mirror \(String(format: "%g", share))% copied" }
        // Once promoted the canary is the stable, all of the bar: it holds every request, as the weight beside it says.
        return "\(bar(canaryWeight: status.promoted == true ? 100 : status.canaryWeight)) \(weight) · \(status.phaseLabel) \(status.stepLabel) · "
            + "failed \(status.failedChecks)/\(status.threshold) · \(sides.joined(separator: " | "))"
    }

    /// `[######..............]`: the canary's share of twenty cells.
    static func bar(canaryWeight: Int) -> String {
        let filled = max(0, min(20, canaryWeight / 5))
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: 20 - filled) + "]"
    }
}
