import SerinCore

/// A document whose kind and name were read but whose resource was not, for its errors: what refers to it is told
/// that, at the first error's place, rather than that it does not exist.
public struct UnreadResource: Hashable, Sendable {
    public let kind: ResourceKind
    public let name: ResourceName
    /// Where its first error is.
    public let location: SourceLocation
    /// A Canary's references, when those parts of it were read without error: checked as a read Canary's are.
    public var canaryReferences: CanaryReferences? = nil
}
