import SerinCore

extension Array where Element == LocatedResource {
    /// The AlertProviders among decoded resources, by name; the first of duplicates wins.
    public var alertProviders: [ResourceName: AlertProvider] {
        var found: [ResourceName: AlertProvider] = [:]
        for located in self {
            guard case .alertProvider(let provider) = located.resource, found[provider.name] == nil else { continue }
            found[provider.name] = provider
        }
        return found
    }

    /// Where alerts to `provider` go by these files: its address, or its Secret's `address` and `token` when it
    /// names a Secret (given with `-f` beside it); why not when the provider or its Secret is missing.
    public func alertEndpoint(for provider: ResourceName) -> Result<AlertEndpoint, AlertEndpointUnavailable> {
        guard let found = alertProviders[provider] else {
            return .failure(.init("AlertProvider \(provider) does not exist"))
        }
        let secret = found.secretRef.flatMap { secrets[ResourceName(namespace: provider.namespace, name: $0)] }
        let values = secret.map { secret in
            // A trailing newline is what `echo URL | base64` leaves; no URL or token ends with one.
            Dictionary(uniqueKeysWithValues: ["address", "token"].compactMap { key in
                secret.text(key).map { (key, $0.trimmingCharacters(in: "\r\n")) }
            })
        }
        return AlertEndpoint.resolve(found, secret: values)
    }
}

/// Alert providers as the files given to `serin up` (and each `POST /apply`) declare them, with their Secrets.
public struct FileAlertEndpoints: AlertEndpoints {
    private let resources: @Sendable () async -> [LocatedResource]

    /// - Parameter resources: the resources now; read for each alert, so an applied change is used from the next one.
    public init(_ resources: @escaping @Sendable () async -> [LocatedResource]) {
        self.resources = resources
    }

    public func endpoint(for provider: ResourceName) async -> Result<AlertEndpoint, AlertEndpointUnavailable> {
        await resources().alertEndpoint(for: provider)
    }
}

extension String {
    fileprivate func trimmingCharacters(in characters: String) -> String {
        var text = Substring(self)
        while let last = text.last, characters.contains(last) { text.removeLast() }
        return String(text)
    }
}
