/// How long a step of the weight schedule holds once its analysis passes (`stepWeights: [{weight: 25, pause: 10m}]`):
/// at least a duration, or until a person runs `serin promote`.
public enum StepPause: Hashable, Sendable, Codable, CustomStringConvertible {
    /// Hold at least this long from the moment the step's weight was set; the step then ends at the next passing analysis.
    case duration(Duration)
    /// Hold, still analysing, until `serin promote` releases it.
    case promote

    /// As the manifest writes it: `10m`, or `promote`.
    public var description: String {
        switch self {
        case .duration(let duration): return Readable.duration(duration)
        case .promote: return "promote"
        }
    }
}
