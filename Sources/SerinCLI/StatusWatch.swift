import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SerinCore
import SerinLogging

/// `serin status NAME --watch`: one Canary followed live from its running Serin's event stream — the demo's line
/// (weight bar, phase, step, each side's rate, success and p99, the last verdicts), redrawn in place on a terminal
/// and printed as a new line whenever it changes on a pipe. It ends when the rollout does.
struct StatusWatch {
    let client: AdminClient
    let name: String

    /// The line for `status`: what both sides served over the last check's window, from its measurements; the canary's
    /// side says `(mirrored)` when that check read mirrored copies of requests.
    static func line(_ status: CanaryStatus) -> String {
        let rate = status.lastMeasurements.first { $0.metric == "request-success-rate" }
        let duration = status.lastMeasurements.first { $0.metric == "request-duration" }
        let seconds = rate?.window?.inSeconds
        func side(_ label: String, requests: Int?, success: Double?, p99: Double?) -> String {
            var perSecond = "-/s"
            if let requests, let seconds, seconds > 0 { perSecond = String(format: "%.0f/s", Double(requests) / seconds) }
            let ok = success.map { String(format: "ok %.1f%%", $0) } ?? "ok -"
            let tail = p99.map { String(format: "p99 %.0fms", $0) } ?? "p99 -"
            return "\(label) \(perSecond) \(ok) \(tail)"
        }
        // The measurements are the release's: its stable's side is the version that served it, which after a promotion
        // is no longer `status.stable` (the canary has taken that role).
        let releaseStable = status.releases.last?.stable ?? status.stable
        let stable = side(releaseStable, requests: rate?.stableRequests, success: rate?.stableValue, p99: duration?.stableValue)
        // The canary's numbers of a check on mirrored copies are no client's traffic: marked so while the step mirrors,
        // and after it, when the weights have risen and they are still the last check's until the next one.
        let mirrored = rate?.mirrored == true || duration?.mirrored == true
        let canary = side(status.canary + (mirrored ? " (mirrored)" : ""),
                          requests: rate?.canaryRequests, success: rate?.canaryValue, p99: duration?.canaryValue)
        let verdicts = status.lastMeasurements.map(\.verdictLabel).joined(separator: ", ")
        // Once finished (promoted, or rolled back), the numbers are the release's last check, not what serves now.
        let sides = status.phase.isFinished && !status.lastMeasurements.isEmpty ? ["last check: \(stable)", canary] : [stable, canary]
        return DemoView.line(status, sides: sides) + (verdicts.isEmpty ? "" : " · \(verdicts)")
    }

    /// Follows the Canary until its rollout finishes and its last weights serve (a promotion whose weights the router
    /// refuses is not over yet); returns its final status.
    func run(interactive: Bool) async throws -> CanaryStatus {
        var status = try await client.decode(CanaryStatus.self, .GET, CanaryReference.path(name))
        var shown = ""
        func show(_ status: CanaryStatus) {
            let line = Self.line(status)
            guard line != shown else { return }
            shown = line
            if interactive {
                // The line stays in place as the rollout moves.
                Terminal.redraw(line)
            } else {
                Terminal.out("\(Timestamp.now) \(line)")
            }
        }
        show(status)
        while !Self.isOver(status) {
            do {
                // Every update of any Canary is a cue to read this one again; the stream's own content is not needed.
                try await client.follow("/events") { _ in
                    status = try await read()
                    show(status)
                    return !Self.isOver(status)
                }
            } catch where Self.isLost(error) {
                // Serin restarted (or stopped): the rollout goes on from its stored state, so the watch waits for it.
                if interactive { StandardStream.output.write("\n") }
                Terminal.err("connection to Serin at \(client.server) lost (\(error)); trying again every \(Readable.duration(Self.retryEvery)) until it answers (Ctrl-C to stop)")
                status = try await readOnceAnswering()
                Terminal.err("connected to Serin at \(client.server) again")
                shown = ""
                show(status)
            }
        }
        // The last line is left whole, wrapped if it must be: nothing redraws it any more.
        if interactive { StandardStream.output.write(Terminal.clearLine + Self.line(status) + "\n") }
        // How it ended, in the rollout's words: why it rolled back, or that the promotion completed.
        if let message = status.message { Terminal.out("  \(message)") }
        return status
    }

    /// How often a lost connection is tried again.
    static let retryEvery = Duration.seconds(1)

    /// The Canary's status; an answer that is not one (the Canary is gone, the token refused) is printed and ends the
    /// command, a connection that fails is thrown as it is, for the watch to try again.
    private func read() async throws -> CanaryStatus {
        let path = CanaryReference.path(name)
        let response = try await client.send(.GET, path)
        guard (200..<300).contains(response.status), let status = try? JSONDecoder().decode(CanaryStatus.self, from: response.body) else {
            Terminal.err(client.failure(response, path: path))
            throw ExitCode(1)
        }
        return status
    }

    /// `read()`, tried every `retryEvery` while Serin cannot be reached.
    private func readOnceAnswering() async throws -> CanaryStatus {
        while true {
            try await Task.sleep(for: Self.retryEvery)
            do {
                return try await read()
            } catch where Self.isLost(error) {
                continue
            }
        }
    }

    /// Whether `error` says the connection to Serin went away (nothing listens, the stream was cut), rather than an
    /// answer: a restart, which the watch outlives.
    static func isLost(_ error: any Error) -> Bool {
        switch error {
        case is AdminClient.NoSerinAnswering, is AdminClient.NoAnswerInTime: return true
        case let failed as AdminClient.ExchangeFailed: return failed.answered == nil
        default: return false
        }
    }

    /// Finished, with the routes carrying its last weights.
    static func isOver(_ status: CanaryStatus) -> Bool {
        status.phase.isFinished && status.weightsRefused != true && status.weightsPending != true
    }
}

extension AdminClient {
    /// Reads a server-sent event stream, handing `onEvent` each event's text (and each keep-alive comment), until it
    /// returns false or the server ends the stream.
    func follow(_ path: String, onEvent: (String) async throws -> Bool) async throws {
        var request = try request(path)
        request.headers.add(name: "accept", value: "text/event-stream")
        do {
            try await HTTPClient.withHTTPClient(configuration: Self.configuration(timeout: timeout)) { client in
                let response = try await client.execute(request, timeout: .hours(24))
                guard response.status.code == 200 else {
                    throw ExchangeFailed(server: server, cause: "\(path) answered \(response.status.code)", answered: Int(response.status.code))
                }
                var pending = ""
                for try await chunk in response.body {
                    pending += String(buffer: chunk)
                    // Events end with a blank line; comment lines (`: keep-alive`) are not events.
                    while let end = pending.range(of: "\n\n") {
                        let event = String(pending[..<end.lowerBound])
                        pending.removeSubrange(..<end.upperBound)
                        // A keep-alive comment is handed on too: a caller that missed an event before the stream
                        // opened looks again within one keep-alive period.
                        if try await !onEvent(event) { return }
                    }
                }
            }
        } catch let error as ExchangeFailed {
            throw error
        } catch {
            throw Self.explain(error, server: server, fromEnvironment: fromEnvironment, timeout: .seconds(24 * 3600))
        }
    }
}
