import Foundation
import SerinKubernetes
import Testing

/// Finding the cluster and credentials the way kubectl does: kubeconfig contexts and users, in-cluster
/// service-account config, and exec credential plugins run for real.
@Suite("Kubernetes connection config")
struct KubeConfigTests {
    static let kubeconfig = """
        apiVersion: v1
        kind: Config
        current-context: dev
        clusters:
        - name: dev-cluster
          cluster:
            server: https://127.0.0.1:6443
            certificate-authority-data: \(Data("CA PEM".utf8).base64EncodedString())
        - name: prod-cluster
          cluster:
            server: https://prod.example:443
            certificate-authority: certs/prod-ca.crt
        users:
        - name: dev-user
          user:
            token: dev-token
        - name: cert-user
          user:
            client-certificate-data: \(Data("CERT".utf8).base64EncodedString())
            client-key: keys/client.key
        - name: exec-user
          user:
            exec:
              apiVersion: client.authentication.k8s.io/v1beta1
              command: get-token
              args: [--cluster, prod]
              env: [{name: REGION, value: eu}]
        - name: file-user
          user:
            tokenFile: tokens/sa
        contexts:
        - name: dev
          context: {cluster: dev-cluster, user: dev-user, namespace: canaries}
        - name: prod
          context: {cluster: prod-cluster, user: exec-user}
        - name: prod-cert
          context: {cluster: prod-cluster, user: cert-user}
        - name: prod-file
          context: {cluster: prod-cluster, user: file-user}
        """

    @Test("the current context gives the server, its CA, a bearer token and the context's namespace")
    func currentContext() throws {
        let config = try KubeConfig.parse(Self.kubeconfig, path: "/home/me/.kube/config")
        let connection = try config.connection(path: "/home/me/.kube/config")
        #expect(connection.contextName == "dev")
        #expect(connection.server.absoluteString == "https://127.0.0.1:6443")
        #expect(connection.certificateAuthority == .data(Data("CA PEM".utf8)))
        #expect(connection.credential == .bearerToken("dev-token"))
        #expect(connection.namespace == "canaries")
        #expect(try config.connection(namespace: "other", path: "k").namespace == "other")
    }

    @Test("--context picks another: exec plugins, client certificates and token files, with paths relative to the kubeconfig")
    func otherContexts() throws {
        let config = try KubeConfig.parse(Self.kubeconfig, path: "/home/me/.kube/config")
        let prod = try config.connection(context: "prod", path: "k")
        #expect(prod.namespace == "default")
        #expect(prod.certificateAuthority == .file("/home/me/.kube/certs/prod-ca.crt"))
        #expect(
            prod.credential
                == .exec(.init(command: "get-token", arguments: ["--cluster", "prod"], environment: ["REGION": "eu"], apiVersion: "client.authentication.k8s.io/v1beta1"))
        )
        #expect(
            try config.connection(context: "prod-cert", path: "k").credential
                == .clientCertificate(certificate: .data(Data("CERT".utf8)), key: .file("/home/me/.kube/keys/client.key"))
        )
        #expect(try config.connection(context: "prod-file", path: "k").credential == .tokenFile("/home/me/.kube/tokens/sa"))
    }

    @Test(
        "a broken kubeconfig says what and where",
        arguments: [
            ("current-context: dev", "current-context: staging", "k: context \"staging\" not found; contexts: dev, prod, prod-cert, prod-file"),
            ("server: https://127.0.0.1:6443", "server: 127.0.0.1:6443", "k:7: clusters[0].cluster.server: expected a URL like https://10.0.0.1:6443, got \"127.0.0.1:6443\""),
            ("client-key: keys/client.key", "client-kee: keys/client.key", "k:19: users[1].user: client-certificate and client-key go together; only one is set"),
            ("user: dev-user, namespace", "user: nobody, namespace", "k: context \"dev\" names user \"nobody\", which is not defined"),
            ("token: dev-token", "auth-provider: {name: gcp}", "k:16: users[0].user.auth-provider is not supported (kubectl removed it too); use an exec credential plugin"),
        ]
    )
    func errors(original: String, replacement: String, message: String) throws {
        let text = Self.kubeconfig.replacingOccurrences(of: original, with: replacement)
        #expect(text != Self.kubeconfig)
        do {
            let config = try KubeConfig.parse(text, path: "k")
            _ = try config.connection(path: "k")
            Issue.record("expected \(message)")
        } catch let error as KubeConfigError {
            #expect(error.description == message)
        }
    }

    @Test("a kubeconfig that cannot be read says why in the system's words")
    func unreadable() throws {
        let directory = NSTemporaryDirectory()
        let error = try #require(throws: KubeConfigError.self) { try KubeConfig.load(path: directory) }
        #expect(error.description == "\(directory): cannot read the kubeconfig: is a directory")
    }

    @Test("the kubeconfig is --kubeconfig, else the files of $KUBECONFIG, else ~/.kube/config")
    func defaultPaths() {
        #expect(KubeConfig.defaultPaths(environment: ["KUBECONFIG": "/a/config::/b/config", "HOME": "/home/me"]) == ["/a/config", "/b/config"])
        #expect(KubeConfig.defaultPaths(environment: ["KUBECONFIG": "", "HOME": "/home/me"]) == ["/home/me/.kube/config"])
        #expect(KubeConfig.defaultPaths(environment: ["HOME": "/home/me"]) == ["/home/me/.kube/config"])
    }

    @Test("several files in $KUBECONFIG merge as kubectl merges them: each name from the first file that has it, the current-context from the first that sets one, a missing file passed over")
    func mergedKubeconfigs() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("serin-kc-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The first file sets no context and defines nothing the second needs; it does define a "prod" cluster first.
        try """
            apiVersion: v1
            kind: Config
            clusters:
            - name: prod-cluster
              cluster: {server: https://first.example:443}
            """.write(toFile: directory + "/first", atomically: true, encoding: .utf8)
        try Self.kubeconfig.write(toFile: directory + "/second", atomically: true, encoding: .utf8)
        let environment = ["KUBECONFIG": "\(directory)/first:\(directory)/missing:\(directory)/second", "HOME": directory]
        let dev = try KubeConfig.connection(kubeconfig: nil, context: nil, environment: environment)
        #expect(dev.contextName == "dev")
        #expect(dev.server.absoluteString == "https://127.0.0.1:6443")
        #expect(dev.credential == .bearerToken("dev-token"))
        let prod = try KubeConfig.connection(kubeconfig: nil, context: "prod", environment: environment)
        #expect(prod.server.absoluteString == "https://first.example:443", "the first file's cluster of that name")
        #expect(throws: KubeConfigError.self) {
            try KubeConfig.connection(kubeconfig: nil, context: nil, environment: ["KUBECONFIG": "\(directory)/none:\(directory)/nothing"])
        }
    }

    @Test("in a pod: the service host and port, the mounted token (re-read each time), CA and namespace")
    func inCluster() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("serin-sa-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(throws: KubeConfigError.self) {
            try InClusterConfig.connection(environment: [:], directory: directory)
        }
        let environment = ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"]
        #expect(throws: KubeConfigError.self) { try InClusterConfig.connection(environment: environment, directory: directory) }
        try "token".write(toFile: directory + "/token", atomically: true, encoding: .utf8)
        try "PEM".write(toFile: directory + "/ca.crt", atomically: true, encoding: .utf8)
        try "canaries\n".write(toFile: directory + "/namespace", atomically: true, encoding: .utf8)
        let connection = try InClusterConfig.connection(environment: environment, directory: directory)
        #expect(connection.server.absoluteString == "https://[fd00::1]:443")
        #expect(connection.credential == .tokenFile(directory + "/token"))
        #expect(connection.certificateAuthority == .file(directory + "/ca.crt"))
        #expect(connection.namespace == "canaries")
    }

    /// A plugin script that counts its runs in `runs` and prints an ExecCredential expiring at `expiry`.
    static func plugin(in directory: String, expiry: String, exitStatus: Int = 0) throws -> String {
        let path = directory + "/plugin.sh"
        let script = """
            #!/bin/sh
            echo run >> "\(directory)/runs"
            if [ \(exitStatus) -ne 0 ]; then echo "login required for $REGION" >&2; exit \(exitStatus); fi
            case "$KUBERNETES_EXEC_INFO" in *'"interactive":false'*) ;; *) echo "no exec info" >&2; exit 3;; esac
            n=$(wc -l < "\(directory)/runs" | tr -d ' ')
            printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"token-%s-%s","expirationTimestamp":"\(expiry)"}}' "$REGION" "$n"
            """
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return path
    }

    static func runs(in directory: String) -> Int {
        ((try? String(contentsOfFile: directory + "/runs", encoding: .utf8)) ?? "").split(separator: "\n").count
    }

    @Test("an exec plugin runs once per token: its token is kept until it nears expiry, then fetched again")
    func execPluginCaches() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("serin-exec-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let script = try Self.plugin(in: directory, expiry: "2030-01-01T00:00:00Z")
        let plugin = ExecCredentialPlugin(.init(command: script, environment: ["REGION": "eu"], apiVersion: "client.authentication.k8s.io/v1"))
        let now = ISO8601DateFormatter().date(from: "2029-12-31T23:00:00Z")!
        #expect(try await plugin.token(now: now) == "token-eu-1")
        #expect(try await plugin.token(now: now) == "token-eu-1")
        #expect(Self.runs(in: directory) == 1)
        // Five seconds before expiry the token is too close to it: the plugin runs again.
        let late = ISO8601DateFormatter().date(from: "2029-12-31T23:59:55Z")!
        #expect(try await plugin.token(now: late) == "token-eu-2")
        await plugin.invalidate()
        #expect(try await plugin.token(now: now) == "token-eu-3")
    }

    @Test("a failing or missing exec plugin is an error with its status and what it printed")
    func execPluginFails() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("serin-exec-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let script = try Self.plugin(in: directory, expiry: "2030-01-01T00:00:00Z", exitStatus: 2)
        let failing = ExecCredentialPlugin(.init(command: script, environment: ["REGION": "eu"], apiVersion: "v1"))
        await #expect(throws: ExecCredentialPlugin.Failure(message: "exec plugin \(script) exited with status 2: login required for eu")) {
            try await failing.token()
        }
        let missing = ExecCredentialPlugin(.init(command: "serin-no-such-plugin", apiVersion: "v1"))
        await #expect(throws: ExecCredentialPlugin.Failure.self) { try await missing.token() }
        do {
            _ = try await missing.token()
        } catch let failure as ExecCredentialPlugin.Failure {
            #expect(failure.message.hasPrefix("exec plugin serin-no-such-plugin was not found (exit status 127)"), "\(failure)")
        }
    }
}
