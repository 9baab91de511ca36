import Foundation
import SerinManifests
import Yams
import SerinSystem

/// A kubeconfig file, read the way kubectl reads it: clusters, users and contexts by name, the current
/// context, and every way a user can prove who they are (bearer token or token file, client certificate,
/// an `exec` credential plugin). `--kubeconfig`, `--context` and `-n` of Serin's commands select from it.
public struct KubeConfig: Sendable, Equatable {
    public var clusters: [String: Cluster]
    public var users: [String: User]
    public var contexts: [String: Context]
    public var currentContext: String?

    /// Where the API server is and how to trust it.
    public struct Cluster: Sendable, Equatable {
        public var server: URL
        /// PEM bytes, from `certificate-authority-data` or the file `certificate-authority` names.
        public var certificateAuthority: Credential.Source?
        public var insecureSkipTLSVerify: Bool
    }

    /// Who is calling.
    public struct User: Sendable, Equatable {
        public var credential: Credential?
    }

    /// A cluster, a user and a default namespace.
    public struct Context: Sendable, Equatable {
        public var cluster: String
        public var user: String?
        public var namespace: String?
    }

    /// How a request proves who sends it.
    public enum Credential: Sendable, Equatable {
        case bearerToken(String)
        /// A token file, read again before each use: Kubernetes rotates projected service-account tokens.
        case tokenFile(String)
        case clientCertificate(certificate: Source, key: Source)
        case exec(ExecCredentialPlugin.Configuration)

        /// Bytes given inline (base64 in the file) or a path to read them from.
        public enum Source: Sendable, Equatable {
            case data(Data)
            case file(String)
        }
    }

    /// The connection a context selects.
    public struct Connection: Sendable, Equatable {
        public var contextName: String
        public var server: URL
        public var certificateAuthority: Credential.Source?
        public var insecureSkipTLSVerify: Bool
        public var credential: Credential?
        /// The context's namespace, or `default`.
        public var namespace: String

        public init(
            contextName: String, server: URL, certificateAuthority: Credential.Source? = nil, insecureSkipTLSVerify: Bool = false,
            credential: Credential?, namespace: String = "default"
        ) {
            self.contextName = contextName
            self.server = server
            self.certificateAuthority = certificateAuthority
            self.insecureSkipTLSVerify = insecureSkipTLSVerify
            self.credential = credential
            self.namespace = namespace
        }
    }

    /// The files of `$KUBECONFIG` in order (empty entries left out), else `~/.kube/config`.
    public static func defaultPaths(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        let listed = (environment["KUBECONFIG"] ?? "").split(separator: ":").map(String.init)
        return listed.isEmpty ? [(environment["HOME"] ?? NSHomeDirectory()) + "/.kube/config"] : listed
    }

    /// Several kubeconfigs as kubectl merges `$KUBECONFIG`: a cluster, user or context is taken from the first file
    /// that names it, and the current-context from the first file that sets one.
    public static func merged(_ configs: [KubeConfig]) -> KubeConfig {
        var merged = KubeConfig(clusters: [:], users: [:], contexts: [:], currentContext: nil)
        for config in configs {
            merged.clusters.merge(config.clusters) { first, _ in first }
            merged.users.merge(config.users) { first, _ in first }
            merged.contexts.merge(config.contexts) { first, _ in first }
            if merged.currentContext?.isEmpty ?? true { merged.currentContext = config.currentContext }
        }
        return merged
    }

    /// How a Serin process reaches its cluster: in a pod, given neither a kubeconfig nor a context, the service
    /// account; otherwise the kubeconfig's context (`--context`, else its current-context).
    public static func connection(
        kubeconfig: String?, context: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> Connection {
        if kubeconfig == nil, context == nil, environment["KUBERNETES_SERVICE_HOST"] != nil {
            return try InClusterConfig.connection(environment: environment)
        }
        if let kubeconfig { return try load(path: kubeconfig).connection(context: context, path: kubeconfig) }
        let paths = defaultPaths(environment: environment)
        guard paths.count > 1 else { return try load(path: paths[0]).connection(context: context, path: paths[0]) }
        // As kubectl: files of the list that do not exist are passed over; one that exists must read.
        let present = paths.filter { FileManager.default.fileExists(atPath: $0) }
        guard !present.isEmpty else {
            throw KubeConfigError(path: paths.joined(separator: ":"), line: nil, message: "none of the files $KUBECONFIG lists exists")
        }
        return try merged(present.map { try load(path: $0) }).connection(context: context, path: "$KUBECONFIG (\(present.joined(separator: ":")))")
    }

    /// Reads and decodes the file at `path`; relative paths inside it are relative to its directory, as kubectl
    /// resolves them.
    public static func load(path: String) throws -> KubeConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw KubeConfigError(path: path, line: nil, message: "cannot read the kubeconfig: \(FileErrorText.reason(error))")
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws -> KubeConfig {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw KubeConfigError(path: path, line: nil, message: "not YAML: \(error)")
        }
        let reader = Reader(path: path, directory: URL(fileURLWithPath: path).deletingLastPathComponent().path)
        guard let node, case .mapping = node else { throw reader.error("expected a kubeconfig mapping (apiVersion: v1, kind: Config)", at: node) }
        var config = KubeConfig(clusters: [:], users: [:], contexts: [:], currentContext: nil)
        config.currentContext = try reader.string(node["current-context"], "current-context", optional: true)
        for (name, entry) in try reader.namedList(node["clusters"], "clusters", inner: "cluster") {
            config.clusters[name.value] = try reader.cluster(entry, path: "clusters[\(name.index)].cluster")
        }
        for (name, entry) in try reader.namedList(node["users"], "users", inner: "user") {
            config.users[name.value] = try reader.user(entry, path: "users[\(name.index)].user")
        }
        for (name, entry) in try reader.namedList(node["contexts"], "contexts", inner: "context") {
            config.contexts[name.value] = try reader.context(entry, path: "contexts[\(name.index)].context")
        }
        return config
    }

    /// The connection for `context` (or the current one), checked: the context, its cluster and its user exist.
    public func connection(context requested: String? = nil, namespace: String? = nil, path: String) throws -> Connection {
        guard let name = requested ?? currentContext, !name.isEmpty else {
            throw KubeConfigError(
                path: path, line: nil,
                message: "no current-context is set; pass --context with one of: \(contexts.keys.sorted().joined(separator: ", "))"
            )
        }
        guard let context = contexts[name] else {
            throw KubeConfigError(
                path: path, line: nil,
                message: "context \"\(name)\" not found; contexts: \(contexts.keys.sorted().joined(separator: ", "))"
            )
        }
        guard let cluster = clusters[context.cluster] else {
            throw KubeConfigError(path: path, line: nil, message: "context \"\(name)\" names cluster \"\(context.cluster)\", which is not defined")
        }
        var credential: Credential?
        if let userName = context.user {
            guard let user = users[userName] else {
                throw KubeConfigError(path: path, line: nil, message: "context \"\(name)\" names user \"\(userName)\", which is not defined")
            }
            credential = user.credential
        }
        return Connection(
            contextName: name, server: cluster.server, certificateAuthority: cluster.certificateAuthority,
            insecureSkipTLSVerify: cluster.insecureSkipTLSVerify, credential: credential,
            namespace: namespace ?? context.namespace ?? "default"
        )
    }

    /// Reads kubeconfig fields with the file and line of each problem.
    private struct Reader {
        let path: String
        let directory: String

        func error(_ message: String, at node: Node?) -> KubeConfigError {
            KubeConfigError(path: path, line: node?.mark.map { $0.line }, message: message)
        }

        func string(_ node: Node?, _ field: String, optional: Bool = false) throws -> String? {
            guard let node else {
                if optional { return nil }
                throw error("\(field) is required", at: nil)
            }
            guard case .scalar(let scalar) = node else { throw error("\(field): expected a string", at: node) }
            return scalar.string
        }

        func required(_ node: Node?, _ field: String, in parent: Node) throws -> String {
            guard let node else { throw error("\(field) is required", at: parent) }
            return try string(node, field) ?? ""
        }

        /// `clusters: [{name, cluster: {...}}]` and the like: each entry's name and inner mapping.
        func namedList(_ node: Node?, _ field: String, inner: String) throws -> [((index: Int, value: String), Node)] {
            guard let node, !node.isNullNode else { return [] }
            guard case .sequence(let items) = node else { throw error("\(field): expected a list", at: node) }
            return try items.enumerated().map { index, item in
                let name = try required(item["name"], "\(field)[\(index)].name", in: item)
                guard let entry = item[inner], case .mapping = entry else {
                    throw error("\(field)[\(index)].\(inner): expected a mapping", at: item[inner] ?? item)
                }
                return ((index, name), entry)
            }
        }

        func source(data: Node?, file: Node?, field: String) throws -> Credential.Source? {
            if let data {
                let text = try string(data, "\(field)-data") ?? ""
                guard let bytes = Data(base64Encoded: text.filter { !$0.isWhitespace }) else {
                    throw error("\(field)-data: expected base64", at: data)
                }
                return .data(bytes)
            }
            if let file, let name = try string(file, field) { return .file(resolve(name)) }
            return nil
        }

        func resolve(_ file: String) -> String {
            file.hasPrefix("/") ? file : directory + "/" + file
        }

        func cluster(_ node: Node, path field: String) throws -> Cluster {
            let serverText = try required(node["server"], "\(field).server", in: node)
            guard let server = URL(string: serverText), let scheme = server.scheme, ["https", "http"].contains(scheme), server.host != nil
            else {
                throw error("\(field).server: expected a URL like https://10.0.0.1:6443, got \"\(serverText)\"", at: node["server"])
            }
            return Cluster(
                server: server,
                certificateAuthority: try source(
                    data: node["certificate-authority-data"], file: node["certificate-authority"], field: "\(field).certificate-authority"
                ),
                insecureSkipTLSVerify: node["insecure-skip-tls-verify"]?.bool ?? false
            )
        }

        func user(_ node: Node, path field: String) throws -> User {
            if let token = try string(node["token"], "\(field).token", optional: true) {
                return User(credential: .bearerToken(token))
            }
            if let file = try string(node["tokenFile"], "\(field).tokenFile", optional: true) {
                return User(credential: .tokenFile(resolve(file)))
            }
            let certificate = try source(
                data: node["client-certificate-data"], file: node["client-certificate"], field: "\(field).client-certificate"
            )
            let key = try source(data: node["client-key-data"], file: node["client-key"], field: "\(field).client-key")
            switch (certificate, key) {
            case (let certificate?, let key?):
                return User(credential: .clientCertificate(certificate: certificate, key: key))
            case (nil, nil):
                break
            default:
                throw error("\(field): client-certificate and client-key go together; only one is set", at: node)
            }
            if let exec = node["exec"] {
                return User(credential: .exec(try self.exec(exec, path: "\(field).exec")))
            }
            if node["auth-provider"] != nil {
                throw error(
                    "\(field).auth-provider is not supported (kubectl removed it too); use an exec credential plugin", at: node["auth-provider"]
                )
            }
            return User(credential: nil)
        }

        func context(_ node: Node, path field: String) throws -> Context {
            Context(
                cluster: try required(node["cluster"], "\(field).cluster", in: node),
                user: try string(node["user"], "\(field).user", optional: true),
                namespace: try string(node["namespace"], "\(field).namespace", optional: true)
            )
        }

        func exec(_ node: Node, path field: String) throws -> ExecCredentialPlugin.Configuration {
            let command = try required(node["command"], "\(field).command", in: node)
            var arguments: [String] = []
            if let args = node["args"] {
                guard case .sequence(let items) = args else { throw error("\(field).args: expected a list", at: args) }
                arguments = try items.enumerated().map { try string($1, "\(field).args[\($0)]") ?? "" }
            }
            var environment: [String: String] = [:]
            if let env = node["env"], !env.isNullNode {
                guard case .sequence(let items) = env else { throw error("\(field).env: expected a list of {name, value}", at: env) }
                for (index, item) in items.enumerated() {
                    environment[try required(item["name"], "\(field).env[\(index)].name", in: item)] =
                        try required(item["value"], "\(field).env[\(index)].value", in: item)
                }
            }
            let apiVersion = try string(node["apiVersion"], "\(field).apiVersion", optional: true) ?? "client.authentication.k8s.io/v1"
            return ExecCredentialPlugin.Configuration(
                command: command.contains("/") ? resolve(command) : command, arguments: arguments, environment: environment,
                apiVersion: apiVersion
            )
        }
    }
}

/// A kubeconfig problem, with where it is.
public struct KubeConfigError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let line: Int?
    public let message: String

    public var description: String {
        line.map { "\(path):\($0): \(message)" } ?? "\(path): \(message)"
    }
}

extension Node {
    fileprivate var isNullNode: Bool {
        if case .scalar(let scalar) = self { return scalar.string == "null" || scalar.string == "~" || scalar.string.isEmpty }
        return false
    }
}
