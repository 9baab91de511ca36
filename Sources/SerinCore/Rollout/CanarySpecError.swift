/// Everything wrong with a Canary spec at once, each problem naming the field, what it got and what was expected.
public struct CanarySpecError: Error, Hashable, Sendable, CustomStringConvertible {
    /// One invalid field: `analysis.threshold is 0, expected at least 1`.
    public struct Problem: Hashable, Sendable, CustomStringConvertible {
        /// Path of the field inside the Canary's `spec`, e.g. `analysis.metrics[1].interval`.
        public var field: String
        public var message: String
        /// The other fields the problem compares `field` with (`analysis.interval` for the deadline): when one of them
        /// is itself malformed, its default stood in, and the comparison says nothing true.
        public var comparedWith: [String]

        public init(field: String, message: String, comparedWith: [String] = []) {
            self.field = field
            self.message = message
            self.comparedWith = comparedWith
        }

        /// `analysis.threshold is 0, expected at least 1`: the field, then what it is, as the decoder words its own.
        public var description: String { "\(field) \(message)" }
    }

    public var problems: [Problem]

    public init(problems: [Problem]) {
        self.problems = problems
    }

    public var description: String {
        problems.map(\.description).joined(separator: "; ")
    }
}
