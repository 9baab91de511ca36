/// Durations written the way Flagger (and Go's `time.ParseDuration`) write them: whole numbers with a unit,
/// one or more in a row (`500ms`, `30s`, `1m`, `1h`, `1m30s`).
enum DurationText {
    /// Milliseconds per unit; `ms` is listed before `m` so it is tried first.
    private static let units: [(suffix: String, milliseconds: Int)] = [
        ("ms", 1), ("h", 3_600_000), ("m", 60_000), ("s", 1000),
    ]

    /// The duration `text` spells, or nil when it is not a sequence of number-unit pairs
    /// (a bare number is rejected: `30` could mean seconds or minutes).
    static func parse(_ text: String) -> Duration? {
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        var total = 0
        while !rest.isEmpty {
            // ASCII digits only: `Character.isNumber` also admits other scripts' digits and `½`.
            let digits = rest.prefix { ("0"..."9").contains($0) }
            guard !digits.isEmpty, let number = Int(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.suffix) }) else { return nil }
            rest = rest.dropFirst(unit.suffix.count)
            let (scaled, overflowed) = number.multipliedReportingOverflow(by: unit.milliseconds)
            let (sum, overflowedSum) = total.addingReportingOverflow(scaled)
            guard !overflowed, !overflowedSum else { return nil }
            total = sum
        }
        return .milliseconds(total)
    }
}
