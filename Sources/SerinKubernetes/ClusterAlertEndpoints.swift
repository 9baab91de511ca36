import Foundation
import SerinCore
import SerinManifests

/// Alert providers as the cluster holds them: the AlertProvider (Serin's `alertproviders.serin.dev` first, then
/// Flagger's `alertproviders.flagger.app`, read unchanged) and its Secret are read when an alert is sent, so a
/// provider or Secret changed with kubectl is used from the next alert and no address is kept in memory.
public struct ClusterAlertEndpoints: AlertEndpoints {
    /// The API groups AlertProviders are read from, Serin's first.
    public static let groupVersions = ["serin.dev/v1alpha1", "flagger.app/v1beta1"]

    private let api: any KubernetesAPI

    public init(api: any KubernetesAPI) {
        self.api = api
    }

    public func endpoint(for name: ResourceName) async -> Result<AlertEndpoint, AlertEndpointUnavailable> {
        let provider: AlertProvider
        switch await self.provider(name) {
        case .success(let found): provider = found
        case .failure(let unavailable): return .failure(unavailable)
        }
        guard let secretName = provider.secretRef else { return AlertEndpoint.resolve(provider, secret: nil) }
        let secret = ResourceName(namespace: name.namespace, name: secretName)
        do {
            let object = try await api.get(.secret(namespace: secret.namespace, name: secret.name))
            var values: [String: String] = [:]
            for key in ["address", "token"] {
                guard let encoded = object["data"]?[key]?.stringValue else { continue }
                guard let data = Data(base64Encoded: encoded) else {
                    return .failure(.init("\(provider.label): Secret \(secret) key \(key) is not base64 data"))
                }
                // A trailing newline is what `echo URL | base64` leaves; no URL or token ends with one.
                values[key] = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
            }
            return AlertEndpoint.resolve(provider, secret: values)
        } catch let error as KubernetesAPIError where error.isNotFound {
            return AlertEndpoint.resolve(provider, secret: nil)
        } catch {
            return .failure(.init("\(provider.label): cannot read Secret \(secret): \(error)"))
        }
    }

    /// The first AlertProvider of that name in Serin's group, then Flagger's.
    private func provider(_ name: ResourceName) async -> Result<AlertProvider, AlertEndpointUnavailable> {
        for groupVersion in Self.groupVersions {
            let path = ResourcePath(groupVersion: groupVersion, resource: "alertproviders", namespace: name.namespace, name: name.name)
            let object: JSONValue
            do {
                object = try await api.get(path)
            } catch let error as KubernetesAPIError where error.isNotFound {
                continue
            } catch {
                return .failure(.init("cannot read AlertProvider \(name) (\(groupVersion)): \(error)"))
            }
            return CanaryWatcher.decode(object, kind: "AlertProvider", defaultAPIVersion: groupVersion) { $0.alertProviders[name] }
                .mapError { AlertEndpointUnavailable($0.message) }
        }
        return .failure(.init("AlertProvider \(name) does not exist (read from alertproviders.serin.dev and alertproviders.flagger.app)"))
    }
}
