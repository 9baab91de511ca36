import ArgumentParser
import Foundation
@testable import SerinCLI
import SerinKubernetes
import Testing
import Yams

/// `deploy/kubernetes/` and the `Dockerfile` agree with the code: the image runs `serin`, the Deployment's
/// arguments are ones `serin controller` accepts, and the names the manifests share line up.
@Suite("Kubernetes deployment manifests")
struct DeployManifestTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

    static func documents(_ path: String) throws -> [[String: Any]] {
        let text = try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
        return try Yams.load_all(yaml: text).compactMap { $0 as? [String: Any] }
    }

    static func container() throws -> [String: Any] {
        let deployment = try #require(try documents("deploy/kubernetes/controller.yaml").first { $0["kind"] as? String == "Deployment" })
        let spec = try #require((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])
        let pod = try #require(spec["spec"] as? [String: Any])
        return try #require((pod["containers"] as? [[String: Any]])?.first)
    }

    @Test("the Deployment runs serin controller with arguments the command accepts")
    func argumentsParse() throws {
        let arguments = try #require(try Self.container()["args"] as? [String])
        #expect(arguments.first == "controller")
        let command = try ControllerCommand.parse(Array(arguments.dropFirst()))
        #expect(command.leaderElect)
        #expect(command.admin.port == 9900)
        #expect(command.admin.host == "0.0.0.0")
        #expect(command.adminToken.adminTokenFile == "/var/run/serin/token")
    }

    @Test("the locally built image is used as it is, not pulled: :latest alone would make Kubernetes pull it from Docker Hub")
    func imageIsNotPulled() throws {
        let container = try Self.container()
        #expect(container["image"] as? String == "serin:latest")
        #expect(container["imagePullPolicy"] as? String == "IfNotPresent")
    }

    @Test("the admin port, the service account and the Lease namespace line up across Deployment, Service and RBAC")
    func namesLineUp() throws {
        let container = try Self.container()
        let port = try #require((container["ports"] as? [[String: Any]])?.first)
        #expect(port["containerPort"] as? Int == 9900)
        let service = try #require(try Self.documents("deploy/kubernetes/controller.yaml").first { $0["kind"] as? String == "Service" })
        let servicePort = try #require(((service["spec"] as? [String: Any])?["ports"] as? [[String: Any]])?.first)
        #expect(servicePort["targetPort"] as? String == port["name"] as? String)

        let rbac = try Self.documents("deploy/kubernetes/rbac.yaml")
        let account = try #require(rbac.first { $0["kind"] as? String == "ServiceAccount" })
        let accountName = (account["metadata"] as? [String: Any])?["name"] as? String
        let deployment = try #require(try Self.documents("deploy/kubernetes/controller.yaml").first { $0["kind"] as? String == "Deployment" })
        let pod = ((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any]
        #expect(pod?["serviceAccountName"] as? String == accountName)
        let leaseRole = try #require(rbac.first { $0["kind"] as? String == "Role" })
        let arguments = try #require(container["args"] as? [String])
        let leaseNamespace = arguments.first { $0.hasPrefix("--lease-namespace=") }.map { String($0.dropFirst("--lease-namespace=".count)) }
        #expect((leaseRole["metadata"] as? [String: Any])?["namespace"] as? String == leaseNamespace)
    }

    @Test("the Service selects only the leading replica: the label the leader sets, and each pod knows its own name")
    func serviceSelectsTheLeader() throws {
        let service = try #require(try Self.documents("deploy/kubernetes/controller.yaml").first { $0["kind"] as? String == "Service" })
        let selector = try #require((service["spec"] as? [String: Any])?["selector"] as? [String: String])
        #expect(selector[LeaderPodLabel.key] == "true")
        let env = try #require(try Self.container()["env"] as? [[String: Any]])
        func field(_ name: String) -> String? {
            let entry = env.first { $0["name"] as? String == name }
            return ((entry?["valueFrom"] as? [String: Any])?["fieldRef"] as? [String: Any])?["fieldPath"] as? String
        }
        #expect(field("POD_NAME") == "metadata.name")
        #expect(field("POD_NAMESPACE") == "metadata.namespace")
        let arguments = try #require(try Self.container()["args"] as? [String])
        #expect(arguments.contains("--leader-elect"), "the label is set only under leader election")
    }

    @Test("kustomization.yaml lists every manifest in deploy/kubernetes")
    func kustomizationComplete() throws {
        let kustomization = try #require(try Self.documents("deploy/kubernetes/kustomization.yaml").first)
        let listed = Set(try #require(kustomization["resources"] as? [String]))
        let files = Set(
            try FileManager.default.contentsOfDirectory(atPath: Self.root.appendingPathComponent("deploy/kubernetes").path)
                .filter { $0.hasSuffix(".yaml") && $0 != "kustomization.yaml" }
        )
        #expect(listed == files)
    }

    @Test("the Dockerfile builds the serin product with the release flags and makes it the entrypoint the Deployment's arguments extend")
    func dockerfile() throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent("Dockerfile"), encoding: .utf8)
        // The image holds the flags script and the link order it names, and builds the product with those flags.
        #expect(text.contains("COPY scripts/release ./scripts/release"))
        #expect(text.contains("swift build $(scripts/release/flags.sh) --product serin"))
        #expect(text.contains(#"ENTRYPOINT ["/usr/local/bin/serin"]"#))
        // The runtime user is the one the Deployment's securityContext asks for.
        let deployment = try #require(try Self.documents("deploy/kubernetes/controller.yaml").first { $0["kind"] as? String == "Deployment" })
        let pod = ((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any]
        let user = (pod?["securityContext"] as? [String: Any])?["runAsUser"] as? Int
        #expect(text.contains("USER \(try #require(user))"))
    }

    @Test("the release flags build in release with the Swift runtime linked in, and the link order they name is a list of sections")
    func releaseFlags() throws {
        let process = Process()
        process.executableURL = Self.root.appendingPathComponent("scripts/release/flags.sh")
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let flags = String(decoding: printed, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(zip(flags, flags.dropFirst()).contains { $0 == "-c" && $1 == "release" })
        #expect(flags.contains("--static-swift-stdlib"))
        let option = "--section-ordering-file="
        let order = try #require(flags.first { $0.hasPrefix(option) }, "the flags name a link order")
        let names = try String(contentsOfFile: String(order.dropFirst(option.count)), encoding: .utf8).split(separator: "\n")
        #expect(names.count > 100)
        #expect(names.allSatisfy { $0.hasPrefix(".text.") }, "gold reads section names")
    }
}
