import SerinCore

/// A decoded resource together with where it and each of its fields came from,
/// so validation can point at the exact line of a bad weight or host.
public struct LocatedResource: Sendable, Hashable, FieldLocated {
    public var resource: Resource
    public var apiVersion: String
    /// The start of the YAML document.
    public var location: SourceLocation
    public var kind: ResourceKind
    public var name: ResourceName
    /// Field path (`spec.http[0].route[1].weight`) → location of its value, for every field read.
    public var fieldLocations: [String: SourceLocation]

    public init(
        resource: Resource, apiVersion: String, location: SourceLocation,
        fieldLocations: [String: SourceLocation] = [:]
    ) {
        self.resource = resource
        self.apiVersion = apiVersion
        self.location = location
        self.kind = resource.kind
        self.name = resource.name
        self.fieldLocations = fieldLocations
    }

    /// `VirtualService default/web-virtualservice`, for messages.
    public var label: String { "\(kind.rawValue) \(name)" }
}
