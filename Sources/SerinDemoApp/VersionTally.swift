/// Counts how often each demo version answered.
public struct VersionTally: Sendable, Equatable, CustomStringConvertible {
    public var counts: [String: Int] = [:]
    public var failures: [String] = []

    public init() {}

    /// One answer: its status, the version header it carried, and its body (kept for failures).
    public mutating func add(status: Int, version: String?, body: String) {
        if status == 200, let version {
            counts[version, default: 0] += 1
        } else {
            failures.append("\(status): \(body.prefix(200))")
        }
    }

    public var total: Int { counts.values.reduce(0, +) + failures.count }

    public var description: String {
        counts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            + (failures.isEmpty ? "" : " failures=\(failures.count)")
    }
}
