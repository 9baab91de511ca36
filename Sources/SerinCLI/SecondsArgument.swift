import ArgumentParser
import Foundation
import NIOCore
import SerinCore
import SerinManifests

/// A span of time on the command line: a number of seconds (`15`, `0.5`), or a duration as manifests write one
/// (`15s`, `500ms`, `1m`), so `--drain-timeout 3s` means what it says rather than being refused.
struct SecondsArgument: ExpressibleByArgument, Sendable, CustomStringConvertible {
    var seconds: Double

    init(_ seconds: Double) { self.seconds = seconds }

    init?(argument: String) {
        if let seconds = Double(argument), seconds.isFinite {
            self.seconds = seconds
        } else if let duration = Duration(durationText: argument) {
            seconds = duration.inSeconds
        } else {
            return nil
        }
    }

    var timeAmount: TimeAmount { .nanoseconds(Int64(seconds * 1e9)) }

    var duration: Duration { .nanoseconds(Int64(seconds * 1e9)) }

    /// `15.0s`, as the start-up and stopping lines say it.
    var description: String { "\(seconds)s" }

    var defaultValueDescription: String { String(format: "%g", seconds) }
}
