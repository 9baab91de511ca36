/// Which Serin this is: `serin --version`, and `/version` on the admin listener, so a person can tell which
/// release (and which commit) answers.
public enum SerinVersion {
    public static let number = "0.1.0"
    /// The commit built from (its first 12 hex digits), or `unknown` when built outside a git checkout.
    public static let build = EmbeddedText.build

    /// `0.1.0 (build 1a2b3c4d5e6f)`
    public static var description: String { "\(number) (build \(build))" }

    /// What `/version` answers.
    public struct View: Codable, Sendable, Equatable {
        public var version: String
        public var build: String
    }

    public static var view: View { View(version: number, build: build) }
}
