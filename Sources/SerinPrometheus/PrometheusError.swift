/// Why Prometheus could not answer, worded for a person: which server, what was tried, what came back.
public struct PrometheusError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
