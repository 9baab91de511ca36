import SerinCore

/// How many analyses of one Canary passed, failed or were inconclusive, and how long they took.
public struct AnalysisTally: Sendable, Equatable {
    public private(set) var passed = 0
    public private(set) var failed = 0
    public private(set) var inconclusive = 0
    /// Seconds spent collecting readings, summed over analyses, and how many were timed.
    public private(set) var secondsSum: Double = 0
    public private(set) var timed = 0

    public init() {}

    mutating func count(_ verdict: Verdict, took duration: Duration?) {
        switch verdict {
        case .pass: passed += 1
        case .fail: failed += 1
        case .inconclusive: inconclusive += 1
        }
        if let duration {
            secondsSum += Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
            timed += 1
        }
    }
}
