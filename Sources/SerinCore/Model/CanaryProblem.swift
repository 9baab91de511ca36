/// Why a Canary was refused or left as it was: shown in the log, and on Kubernetes in the Canary's status.
public struct CanaryProblem: Hashable, Sendable, CustomStringConvertible {
    public var canary: ResourceName
    /// One line, naming the Canary.
    public var message: String

    public init(canary: ResourceName, message: String) {
        self.canary = canary
        self.message = message
    }

    public var description: String { message }
}
