import SerinCore

/// What a Canary names of the other resources — the VirtualService whose weights it drives and its stable and canary
/// destinations — and where each is written: all the checks against those resources need, so a Canary whose errors
/// elsewhere (a bad `analysis.interval`) kept it from being read is still checked in the same pass.
public struct CanaryReferences: Hashable, Sendable, FieldLocated {
    public let name: ResourceName
    public let targetRef: ResourceName
    public let stable: Destination?
    /// Nil where it is not written: that is the Canary's own error, said by the decoder.
    public let canary: Destination?
    public let location: SourceLocation
    public let fieldLocations: [String: SourceLocation]

    public init(
        name: ResourceName, targetRef: ResourceName, stable: Destination?, canary: Destination?, location: SourceLocation,
        fieldLocations: [String: SourceLocation]
    ) {
        self.name = name
        self.targetRef = targetRef
        self.stable = stable
        self.canary = canary
        self.location = location
        self.fieldLocations = fieldLocations
    }

    /// A read Canary's: nil for one on a Deployment, whose VirtualService and Services Serin creates itself.
    init?(_ spec: CanarySpec, at located: LocatedResource) {
        guard spec.workload == nil else { return nil }
        self.init(
            name: spec.name, targetRef: spec.targetRef, stable: spec.stable, canary: spec.canary, location: located.location,
            fieldLocations: located.fieldLocations)
    }

    /// `Canary default/web`, for messages.
    public var label: String { "\(ResourceKind.canary.rawValue) \(name)" }
}
