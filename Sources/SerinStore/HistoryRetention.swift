import Foundation
import SerinCore

/// How much of each Canary's history (events and measurements) the state file keeps (`--history-retention`): the
/// last N releases, events newer than an age, or both (whichever keeps less). Without it a state file grows with
/// every check of every release for as long as the Canary lives.
public struct HistoryRetention: Hashable, Sendable, CustomStringConvertible {
    /// Keep the history of this many releases, the one in flight included.
    public var releases: Int?
    /// Keep what happened within this long before the newest entry.
    public var maxAge: Duration?

    /// Keep everything (what Serin did before retention existed).
    public static let unlimited = HistoryRetention()

    public init(releases: Int? = nil, maxAge: Duration? = nil) {
        self.releases = releases
        self.maxAge = maxAge
    }

    /// `10 releases, 7d`-style items separated by commas: a whole number is releases, a duration (`168h`, `30m`)
    /// an age. Nil, with the reason, when an item is neither or not above zero.
    public init(parsing text: String) throws(Invalid) {
        self.init()
        for item in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if let count = Int(item) {
                // "10,20": which one? Each may be given once.
                if let releases { throw Invalid(text: text, reason: "gives a number of releases twice (\(releases) and \(count)); give one, and one age") }
                guard count > 0 else { throw Invalid(text: text, reason: "\(count) releases keeps nothing; give 1 or more") }
                guard count <= Release.kept else {
                    throw Invalid(text: text, reason: "\(count) releases is more than the \(Release.kept) a Canary's state remembers; give at most \(Release.kept), or an age")
                }
                releases = count
            } else if let age = Self.duration(item) {
                if maxAge != nil { throw Invalid(text: text, reason: "gives an age twice; give one, and one number of releases") }
                guard age > .zero else { throw Invalid(text: text, reason: "\(item) keeps nothing; give an age above 0") }
                maxAge = age
            } else {
                throw Invalid(text: text, reason: "\(item) is neither a number of releases (10) nor an age (168h, 30m, 90s)")
            }
        }
        if releases == nil && maxAge == nil { throw Invalid(text: text, reason: "it names no number of releases and no age") }
    }

    /// Why a `--history-retention` value was refused.
    public struct Invalid: Error, CustomStringConvertible {
        public var text: String
        public var reason: String
        public var description: String { "--history-retention \"\(text)\": \(reason)" }
    }

    /// The oldest instant whose entries are kept for `rollout`, given the newest entry at `newest`; nil keeps all.
    public func cutoff(for rollout: Rollout, newest: RolloutInstant?) -> RolloutInstant? {
        var cutoffs: [RolloutInstant] = []
        if let releases, rollout.status.releases.count >= releases {
            cutoffs.append(rollout.status.releases[rollout.status.releases.count - releases].startedAt)
        }
        if let maxAge, let newest { cutoffs.append(RolloutInstant(sinceEpoch: newest.sinceEpoch - maxAge)) }
        return cutoffs.max()
    }

    public var description: String {
        [releases.map { "the last \($0) release\($0 == 1 ? "" : "s")" }, maxAge.map { "the last \(Readable.duration($0))" }]
            .compactMap { $0 }.joined(separator: " and within ")
    }

    /// `90s`, `30m`, `168h`, `7d`: whole numbers with one unit.
    static func duration(_ text: String) -> Duration? {
        guard let unit = text.last, let value = Int(text.dropLast()), value >= 0 else { return nil }
        switch unit {
        case "s": return .seconds(value)
        case "m": return .seconds(value * 60)
        case "h": return .seconds(value * 3_600)
        case "d": return .seconds(value * 86_400)
        default: return nil
        }
    }
}
