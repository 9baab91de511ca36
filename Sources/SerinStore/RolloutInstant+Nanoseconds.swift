import SerinCore

extension RolloutInstant {
    /// Nanoseconds since the epoch, the `instant_ns` column; nil when it does not fit (±292 years).
    /// Sub-nanosecond parts are dropped: no clock Serin reads is finer than that.
    var nanoseconds: Int64? {
        let (seconds, attoseconds) = sinceEpoch.components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return nil }
        let (total, carry) = whole.addingReportingOverflow(attoseconds / 1_000_000_000)
        return carry ? nil : total
    }

    init(nanoseconds: Int64) {
        self.init(sinceEpoch: .nanoseconds(nanoseconds))
    }
}
