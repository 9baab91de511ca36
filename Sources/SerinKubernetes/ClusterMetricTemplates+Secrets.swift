import Foundation
import SerinCore

/// A MetricTemplate's `provider.secretRef`: the Secret is read when a check needs it (each analysis), so a
/// rotated password is used from the next one, and no Secret is held in memory between analyses.
extension ClusterMetricTemplates {
    /// The credentials of `template`'s Secret (in the template's namespace); none when it names no Secret. A
    /// missing Secret or key is a failure that names them, and fails the check with that reason.
    public func credentials(for template: MetricTemplateSpec) async -> Result<ProviderCredentials, ProviderCredentials.Unavailable> {
        guard let name = template.secretRef else { return .success(.none) }
        let secret = ResourceName(namespace: template.name.namespace, name: name)
        do {
            let object = try await api.get(.secret(namespace: secret.namespace, name: secret.name))
            return Self.credentials(in: object, secret: secret)
        } catch let error as KubernetesAPIError where error.isNotFound {
            return .failure(.init("provider.secretRef: Secret \(secret) does not exist"))
        } catch {
            return .failure(.init("provider.secretRef: cannot read Secret \(secret): \(error)"))
        }
    }

    /// Flagger's keys: `token` for a bearer token, else `username` and `password` for basic auth; `address`
    /// replaces the template's provider address.
    static func credentials(in secret: JSONValue, secret name: ResourceName) -> Result<ProviderCredentials, ProviderCredentials.Unavailable> {
        var values: [String: String] = [:]
        for (key, value) in secret["data"]?.objectValue ?? [:] {
            guard let encoded = value.stringValue, let data = Data(base64Encoded: encoded) else {
                return .failure(.init("provider.secretRef: Secret \(name) key \(key) is not base64 data"))
            }
            // A trailing newline is what `echo VALUE | base64` leaves; no token, password or URL ends with one.
            values[key] = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
        }
        for key in ["token", "username", "password", "address"] where values[key]?.isEmpty == true {
            return .failure(.init("provider.secretRef: Secret \(name) key \(key) is empty"))
        }
        var credentials = ProviderCredentials(address: values["address"])
        switch (values["token"], values["username"], values["password"]) {
        case (let token?, _, _):
            credentials.authorization = .bearer(token: token)
        case (nil, let username?, let password?):
            credentials.authorization = .basic(username: username, password: password)
        case (nil, _?, nil):
            return .failure(.init("provider.secretRef: Secret \(name) has key username but no key password"))
        case (nil, nil, _?):
            return .failure(.init("provider.secretRef: Secret \(name) has key password but no key username"))
        case (nil, nil, nil) where credentials.address == nil:
            let keys = values.keys.sorted()
            return .failure(.init(
                "provider.secretRef: Secret \(name) has no key token, username and password, or address "
                    + "(its keys: \(keys.isEmpty ? "none" : keys.joined(separator: ", ")))"
            ))
        case (nil, nil, nil):
            break
        }
        return .success(credentials)
    }
}
