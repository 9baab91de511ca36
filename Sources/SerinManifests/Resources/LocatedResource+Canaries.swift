import SerinCore

extension Array where Element == LocatedResource {
    /// The Canary specs among decoded resources, in file order: what the controller reconciles.
    public var canaries: [CanarySpec] {
        compactMap { located in
            guard case .canary(let spec) = located.resource else { return nil }
            return spec
        }
    }
}
