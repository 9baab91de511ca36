import Foundation

/// The connection a pod has to its own cluster: `KUBERNETES_SERVICE_HOST`/`_PORT`, and the service account's
/// token, CA and namespace mounted under `/var/run/secrets/kubernetes.io/serviceaccount`. The token is read
/// again before each use, since Kubernetes rotates it.
public enum InClusterConfig {
    public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    public static func connection(
        environment: [String: String] = ProcessInfo.processInfo.environment, directory: String = serviceAccountDirectory
    ) throws -> KubeConfig.Connection {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
            let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty
        else {
            throw KubeConfigError(
                path: "in-cluster", line: nil,
                message: "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set: not running in a pod; pass --kubeconfig"
            )
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        guard let server = URL(string: "https://\(hostPart):\(port)") else {
            throw KubeConfigError(path: "in-cluster", line: nil, message: "https://\(hostPart):\(port) is not a URL")
        }
        let tokenPath = directory + "/token"
        guard FileManager.default.isReadableFile(atPath: tokenPath) else {
            throw KubeConfigError(path: tokenPath, line: nil, message: "no service-account token here; is automountServiceAccountToken off?")
        }
        let namespace = (try? String(contentsOfFile: directory + "/namespace", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let caPath = directory + "/ca.crt"
        return KubeConfig.Connection(
            contextName: "in-cluster", server: server,
            certificateAuthority: FileManager.default.fileExists(atPath: caPath) ? .file(caPath) : nil,
            insecureSkipTLSVerify: false, credential: .tokenFile(tokenPath),
            namespace: namespace.flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        )
    }
}
