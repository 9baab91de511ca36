/// Counts how often each demo version answered.
public struct VersionTally: Sendable, Equatable, CustomStringConvertible {
    /// Successful answers by version.
    public var counts: [String: Int] = [:]
    /// Every failure, whoever failed it.
    public var failures: [String] = []
    /// Of `failures`, those a version answered (a demo app's 500s), by version.
    public var failedByVersion: [String: Int] = [:]

    public init() {}

    /// One answer: its status, the version header it carried, and its body (kept for failures).
    public mutating func add(status: Int, version: String?, body: String) {
        if status == 200, let version {
            counts[version, default: 0] += 1
        } else {
            failures.append("\(status): \(body.prefix(200))")
            if let version { failedByVersion[version, default: 0] += 1 }
        }
    }

    public var total: Int { counts.values.reduce(0, +) + failures.count }

    public var description: String {
        counts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            + (failures.isEmpty ? "" : " failures=\(failures.count)")
    }
}
