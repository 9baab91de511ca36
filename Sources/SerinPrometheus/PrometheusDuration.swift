/// Writes a `Duration` in PromQL's duration syntax (`30s`, `1m`, `1m30s`, `500ms`, `1s500ms`), for range
/// selectors such as `[{{ interval }}]`.
public enum PrometheusDuration {
    /// Whole milliseconds (PromQL's smallest unit, rounded to nearest) split into `h`, `m`, `s` and `ms`.
    /// Zero renders as `0s` and a negative duration with a leading `-`; Prometheus rejects both in a range
    /// selector with an error that names the query, which is better than inventing a window here.
    public static func format(_ duration: Duration) -> String {
        if duration < .zero { return "-" + format(.zero - duration) }
        let (seconds, attoseconds) = duration.components
        let total = seconds * 1000 + Int64((Double(attoseconds) / 1e15).rounded())
        guard total > 0 else { return "0s" }
        let units: [(String, Int64)] = [("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)]
        var text = ""
        var rest = total
        for (suffix, size) in units where rest >= size {
            text += "\(rest / size)\(suffix)"
            rest %= size
        }
        return text
    }
}
