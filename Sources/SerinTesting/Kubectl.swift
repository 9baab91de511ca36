import Foundation

/// The real kubectl (Debian's `kubectl`, v1.32), run against the Kubernetes API double: the client every user
/// drives a cluster with, as the judge of whether the double answers as a real API server does. Locally its
/// tests are skipped with a reason when kubectl is not installed; in CI (`CI=true`) a missing kubectl is a failure.
public struct Kubectl: Sendable {
    public let kubeconfig: String
    /// A discovery cache of its own: a port reused by a later double must not be answered from this one's.
    public let cacheDirectory: String

    /// The `kubectl` executable on PATH, if there is one.
    public static let binary: String? = ChildServer.onPath("kubectl")

    public static var isInstalled: Bool { binary != nil }
    /// CI must run these tests; elsewhere they run when kubectl is installed.
    public static var shouldRun: Bool { ChildServer.shouldRun(installed: isInstalled) }

    public struct NotInstalled: Error, CustomStringConvertible {
        public var description: String { "kubectl is not on PATH (apt-get install kubectl); CI=true requires it" }
    }

    /// kubectl with `kubeconfig` (`KubernetesAPIServer.writeKubeconfig(in:)`).
    public init(kubeconfig: String) throws {
        guard Self.binary != nil else { throw NotInstalled() }
        self.kubeconfig = kubeconfig
        cacheDirectory = try SerinProcess.temporaryDirectory().appendingPathComponent("kubectl-cache").path
    }

    private var program: URL { URL(fileURLWithPath: Self.binary ?? "kubectl") }

    private func full(_ arguments: [String]) -> [String] {
        ["--kubeconfig", kubeconfig, "--cache-dir", cacheDirectory] + arguments
    }

    /// Runs `kubectl arguments...` from the repository root to completion.
    public func run(_ arguments: [String], timeout: Duration = .seconds(60)) async throws -> SerinProcess.Result {
        try await SerinProcess.run(full(arguments), program: program, environment: ["KUBECTL_KUBERC": "false"], timeout: timeout)
    }

    /// Starts `kubectl arguments...` (a watch, `get -w`) and returns at once.
    public func launch(_ arguments: [String]) throws -> SerinProcess.Running {
        try SerinProcess.launch(full(arguments), program: program)
    }
}
