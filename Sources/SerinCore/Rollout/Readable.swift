/// Number and duration formatting for messages people read, without Foundation:
/// `1,204`, `96.20`, `812.5`, `1m30s`.
public enum Readable {
    /// An integer with thousands grouped by commas: `1,204`.
    static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var text = ""
        for (offset, digit) in digits.enumerated() {
            if offset > 0 && (digits.count - offset) % 3 == 0 { text.append(",") }
            text.append(digit)
        }
        return value < 0 ? "-" + text : text
    }

    /// `value` rounded to exactly `decimals` places, integer part grouped: `96.20`, `1,204.00`.
    static func fixed(_ value: Double, decimals: Int) -> String {
        guard let (integer, fraction, negative) = split(value, decimals: decimals) else { return "\(value)" }
        let sign = negative ? "-" : ""
        return decimals > 0 ? "\(sign)\(grouped(integer)).\(fraction)" : "\(sign)\(grouped(integer))"
    }

    /// `value` with at most `maxDecimals` places and no trailing zeros: `99`, `99.5`, `812.46`.
    public static func trimmed(_ value: Double, maxDecimals: Int = 2) -> String {
        guard value.isFinite, let (integer, fraction, negative) = split(value, decimals: maxDecimals) else {
            return "\(value)"
        }
        var kept = Substring(fraction)
        while kept.last == "0" { kept = kept.dropLast() }
        let sign = negative ? "-" : ""
        return kept.isEmpty ? "\(sign)\(grouped(integer))" : "\(sign)\(grouped(integer)).\(kept)"
    }

    /// A duration the way Flagger specs write them: `30s`, `1m`, `1m30s`, `2h`, `500ms`.
    public static func duration(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        if seconds < 0 || attoseconds < 0 { return "-" + self.duration(.zero - duration) }
        let subSecondMilliseconds = Double(attoseconds) / 1e15
        if subSecondMilliseconds > 0 {
            if seconds == 0 { return trimmed(subSecondMilliseconds) + "ms" }
            return trimmed(Double(seconds) + subSecondMilliseconds / 1000, maxDecimals: 3) + "s"
        }
        if seconds == 0 { return "0s" }
        let hours = seconds / 3600, minutes = (seconds % 3600) / 60, rest = seconds % 60
        var text = ""
        if hours > 0 { text += "\(hours)h" }
        if minutes > 0 { text += "\(minutes)m" }
        if rest > 0 { text += "\(rest)s" }
        return text
    }

    /// The time of day of `instant`, read as time since the Unix epoch (as the controller's clock counts): `12:40:00`.
    static func clock(_ instant: RolloutInstant) -> String {
        let seconds = instant.sinceEpoch.components.seconds
        let ofDay = ((seconds % 86_400) + 86_400) % 86_400
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(two(ofDay / 3600)):\(two(ofDay % 3600 / 60)):\(two(ofDay % 60))"
    }

    /// `count` followed by `noun`, pluralised with an `s` unless it is exactly one: `1,204 requests`.
    static func counted(_ count: Int, _ noun: String) -> String {
        "\(grouped(count)) \(noun)\(count == 1 ? "" : "s")"
    }

    /// Integer part, zero-padded fraction digits and sign of `value` rounded to `decimals` places;
    /// nil when it does not fit an `Int` once scaled.
    private static func split(_ value: Double, decimals: Int) -> (Int, String, Bool)? {
        guard value.isFinite else { return nil }
        var scale = 1.0
        for _ in 0..<max(decimals, 0) { scale *= 10 }
        let scaled = (value.magnitude * scale).rounded()
        guard scaled < 9.0e18 else { return nil }
        let units = Int(scaled)
        let step = Int(scale)
        var fraction = String(units % step)
        if decimals > 0 {
            fraction = String(repeating: "0", count: decimals - fraction.count) + fraction
        } else {
            fraction = ""
        }
        return (units / step, fraction, value < 0 && units != 0)
    }
}
