import Foundation
import SerinController
import SerinCore

/// The demo's closing story: events and, between them, each analysis's numbers for canary and stable.
enum DemoTimeline {
    static func lines(events: [RolloutEvent], measurements: [RecordedMeasurement]) -> [String] {
        var entries: [(time: Double, order: Int, text: String)] = events.enumerated().map {
            ($0.element.instant.unixSeconds, $0.offset, $0.element.message)
        }
        let analyses = Dictionary(grouping: measurements, by: \.instant)
        for (instant, group) in analyses {
            let parts = group.sorted { $0.metric < $1.metric }.map(describe)
            entries.append((instant.unixSeconds, -1, "  checked at \(group[0].canaryWeight)%: " + parts.joined(separator: "; ")))
        }
        return entries.sorted { ($0.time, $0.order) < ($1.time, $1.order) }.map { "\(Timestamp.format($0.time))  \($0.text)" }
    }

    /// `request-success-rate 100.00% (stable 100.00%) pass`.
    static func describe(_ measurement: RecordedMeasurement) -> String {
        let unit = measurement.metric == "request-success-rate" ? "%" : "ms"
        let format = { (value: Double?) -> String in
            guard let value else { return "-" }
            return unit == "%" ? String(format: "%.2f%%", value) : String(format: "%.0fms", value)
        }
        return "\(measurement.metric) \(format(measurement.canaryValue)) (stable \(format(measurement.stableValue))) \(measurement.verdict.outcome.rawValue)"
    }
}
