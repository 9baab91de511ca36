import SerinCore

extension Array where Element == LocatedResource {
    /// The Secrets among decoded resources, by name: what `credentialName` and `secretRef` look up.
    public var secrets: [ResourceName: KubernetesSecret] {
        var found: [ResourceName: KubernetesSecret] = [:]
        for located in self {
            guard case .secret(let secret) = located.resource else { continue }
            found[secret.name] = secret
        }
        return found
    }
}
