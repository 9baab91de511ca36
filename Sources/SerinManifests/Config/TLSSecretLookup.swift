import SerinCore

/// Finds a Gateway server's `credentialName` among the Secrets given with `-f`, the way Istio's ingress gateway
/// reads them: `tls.crt`/`tls.key`/`ca.crt` (a `kubernetes.io/tls` Secret) or `cert`/`key`/`cacert` (a generic
/// one), and for MUTUAL the CA from the same Secret or from `NAME-cacert`.
struct TLSSecretLookup {
    let secrets: [ResourceName: KubernetesSecret]

    /// The Secret's PEM, or what is missing in words for a diagnostic (never a value).
    func material(named name: String, namespace: String, mode: ServerTLS.Mode) -> Result<TLSMaterial, TLSSecretProblem> {
        let resourceName = ResourceName(namespace: namespace, name: name)
        guard let secret = secrets[resourceName] else {
            let elsewhere = secrets.keys.filter { $0.name == name }.map(\.namespace).sorted()
            guard !elsewhere.isEmpty else {
                return .failure(TLSSecretProblem("Secret \(resourceName) does not exist (give it with -f beside the Gateway)"))
            }
            return .failure(
                TLSSecretProblem(
                    "Secret \(resourceName) does not exist: a Secret \(name) is in namespace \(elsewhere.joined(separator: ", ")), but "
                        + "credentialName is read from the Gateway's own namespace, \(namespace); put the Secret there"
                )
            )
        }
        func value(_ keys: [String], in secret: KubernetesSecret) -> [UInt8]? {
            keys.lazy.compactMap { secret.data[$0] }.first { !$0.isEmpty }
        }
        guard let certificate = value(["tls.crt", "cert"], in: secret), let key = value(["tls.key", "key"], in: secret) else {
            let keys = secret.data.keys.sorted().joined(separator: ", ")
            return .failure(TLSSecretProblem("Secret \(resourceName) needs tls.crt and tls.key (or cert and key), has \(keys.isEmpty ? "no keys" : keys)"))
        }
        let caSecretName = ResourceName(namespace: namespace, name: name + "-cacert")
        var ca = value(["ca.crt", "cacert"], in: secret)
        if ca == nil, let caSecret = secrets[caSecretName] { ca = value(["ca.crt", "cacert"], in: caSecret) }
        if mode.verifiesClients && ca == nil {
            return .failure(
                TLSSecretProblem(
                    "mode \(mode.rawValue) needs CA certificates: Secret \(resourceName) has no ca.crt and Secret \(caSecretName) "
                        + (secrets[caSecretName] == nil ? "does not exist" : "has no ca.crt")
                )
            )
        }
        return .success(TLSMaterial(certificateChain: certificate, privateKey: key, caCertificates: ca, source: "Secret \(resourceName)"))
    }

    /// A Gateway with every `credentialName` it can find filled in with the Secret's PEM.
    func resolving(_ gateway: Gateway) -> Gateway {
        var gateway = gateway
        for index in gateway.servers.indices {
            guard var tls = gateway.servers[index].tls, case .secret(let name, _) = tls.credential else { continue }
            let found = try? material(named: name, namespace: gateway.name.namespace, mode: tls.mode).get()
            tls.credential = .secret(name: name, material: found)
            gateway.servers[index].tls = tls
        }
        return gateway
    }
}

/// Why a `credentialName` gives no certificate: a missing Secret or key.
struct TLSSecretProblem: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
