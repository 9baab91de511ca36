/// Durations written the way Flagger (and Go's `time.ParseDuration`) write them: whole numbers with a unit,
/// one or more in a row (`500ms`, `30s`, `1m`, `1h`, `1m30s`).
enum DurationText {
    /// Milliseconds per unit; `ms` is listed before `m` so it is tried first.
    private static let units: [(suffix: String, milliseconds: Int)] = [
        ("ms", 1), ("h", 3_600_000), ("m", 60_000), ("s", 1000),
    ]

    /// The most fraction digits read, as Go reads nanoseconds at most.
    private static let maxFractionDigits = 9

    /// The duration `text` spells, or nil when it is not a sequence of number-unit pairs
    /// (a bare number is rejected: `30` could mean seconds or minutes).
    ///
    /// With `allowingFractions`, a number may have decimals (`0.5s`, `1.5m`), as Istio's examples write
    /// timeouts, as long as the whole comes to whole milliseconds, the precision Istio accepts.
    static func parse(_ text: String, allowingFractions: Bool = false) -> Duration? {
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        var total = 0
        while !rest.isEmpty {
            // ASCII digits only: `Character.isNumber` also admits other scripts' digits and `½`.
            let digits = rest.prefix(while: isDigit)
            guard !digits.isEmpty, let number = Int(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            var fraction: Substring = ""
            if allowingFractions, rest.first == "." {
                fraction = rest.dropFirst().prefix(while: isDigit)
                guard !fraction.isEmpty, fraction.count <= maxFractionDigits else { return nil }
                rest = rest.dropFirst(1 + fraction.count)
            }
            guard let unit = units.first(where: { rest.hasPrefix($0.suffix) }) else { return nil }
            rest = rest.dropFirst(unit.suffix.count)
            let (scaled, overflowed) = number.multipliedReportingOverflow(by: unit.milliseconds)
            guard !overflowed, let part = fractionMilliseconds(fraction, of: unit.milliseconds) else { return nil }
            let (sum, overflowedSum) = total.addingReportingOverflow(scaled)
            let (withPart, overflowedPart) = sum.addingReportingOverflow(part)
            guard !overflowedSum, !overflowedPart else { return nil }
            total = withPart
        }
        return .milliseconds(total)
    }

    private static func isDigit(_ character: Character) -> Bool {
        ("0"..."9").contains(character)
    }

    /// `0.digits` of a unit in milliseconds; nil when that is not a whole number of them.
    private static func fractionMilliseconds(_ digits: Substring, of unit: Int) -> Int? {
        guard !digits.isEmpty else { return 0 }
        var numerator = 0
        var denominator = 1
        for digit in digits {
            // At most nine digits: neither product overflows.
            numerator = numerator * 10 + (digit.wholeNumberValue ?? 0)
            denominator *= 10
        }
        let milliseconds = numerator * unit
        return milliseconds % denominator == 0 ? milliseconds / denominator : nil
    }
}

extension Duration {
    /// A duration written as manifests write one (`500ms`, `30s`, `1m30s`, `1.5s`): for command-line options that
    /// take the same spelling. Nil when `text` is not one.
    public init?(durationText text: String) {
        guard let parsed = DurationText.parse(text, allowingFractions: true) else { return nil }
        self = parsed
    }
}
