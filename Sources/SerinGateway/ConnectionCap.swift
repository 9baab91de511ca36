/// The client connections the gateway takes under its open-file limit (`OpenFileLimit`), and what start-up says of
/// it. As nginx warns only when `worker_connections` exceeds the open-file limit, a warning is said only where the
/// cap bites: a `--max-connections` the user wrote is more than the limit holds, or the limit holds fewer than
/// `fewest` connections whatever was asked. A cap under the default alone, which asks for no particular number, is
/// said at debug level.
public struct ConnectionCap: Equatable, Sendable {
    /// What start-up says of a cap, and how loudly.
    public struct Notice: Equatable, Sendable {
        public enum Level: Equatable, Sendable {
            case debug, warning
        }

        public let level: Level
        public let message: String
    }

    /// The client connections allowed: those asked for, or fewer where the open-file limit holds fewer.
    public let connections: Int
    /// What start-up says of a cap under what was asked, and how loudly; nil when the limit holds what was asked.
    public let notice: Notice?

    /// Below this many connections (nginx's default `worker_connections`, 512) a cap is warned of even under the
    /// default: the hard limit is low (1,024 holds 384), and a real load would meet it.
    public static let fewest = 512

    /// `asked`: `--max-connections`, or the default when `written` is false; `openFiles`: the soft limit after
    /// raising it to the hard one.
    public init(asked: Int, written: Bool, openFiles: Int) {
        let fitting = OpenFileLimit.connections(fitting: openFiles)
        guard fitting < asked else {
            (connections, notice) = (asked, nil)
            return
        }
        connections = fitting
        let capped = "client connections capped at \(fitting) by the open-file limit of \(openFiles) (each takes two descriptors, its own and its upstream's)"
        let raise = "raise the hard limit (ulimit -Hn, systemd LimitNOFILE=, docker run --ulimit nofile=)"
        if written {
            notice = Notice(level: .warning, message: "\(capped): --max-connections \(asked) needs a higher one; \(raise) or lower --max-connections")
        } else if fitting < Self.fewest {
            notice = Notice(level: .warning, message: "\(capped); to allow more, \(raise)")
        } else {
            notice = Notice(level: .debug, message: "\(capped), under the default --max-connections \(asked)")
        }
    }

}
