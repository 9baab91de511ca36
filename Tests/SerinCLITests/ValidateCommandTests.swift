import Foundation
@testable import SerinCLI
import SerinManifests
import SerinTesting
import Testing

@Suite("serin validate", .timeLimit(.minutes(2)))
struct ValidateCommandTests {
    @Test("a server certificate clients would refuse by its dates is warned of at its server's tls, file:line:column, as every other message")
    func certificateDatesLocated() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        _ = try await certificates.server("web", hosts: ["web.example.com"])
        let file = certificates.directory.appendingPathComponent("gateway.yaml").path
        let gateway = """
            apiVersion: networking.istio.io/v1beta1
            kind: Gateway
            metadata: {name: web-gateway}
            spec:
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: ["*"]
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: [web.example.com]
                tls: {serverCertificate: web.crt, privateKey: web.key}
            """
        try gateway.write(toFile: file, atomically: true, encoding: .utf8)
        let set = ManifestSet(sources: ManifestLoader.load(paths: [file], recursive: false).sources)
        #expect(set.errors.isEmpty, "\(set.errors)")
        #expect(ValidateCommand.certificateDateWarnings(in: set).isEmpty)
        let later = ValidateCommand.certificateDateWarnings(in: set, now: Date().addingTimeInterval(100 * 365 * 86_400))
        let prefix = "\(file):10:10: warning: Gateway default/web-gateway port 443 (hosts web.example.com): the certificate "
            + "\(certificates.directory.path)/web.crt expired on "
        #expect(later.count == 1 && later[0].hasPrefix(prefix) && later[0].hasSuffix(" UTC: clients refuse it"), "\(later)")
    }

    @Test("accepts the seed's manifests, warning about the legacy Deployment API")
    func seedIsValid() async throws {
        let result = try await SerinProcess.run(["validate", "examples/seed"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("0 errors"))
        #expect(result.stderr.contains("examples/seed/web-v1-deployment.yaml:1:1: warning:"))
        #expect(result.stderr.contains("apps/v1"))
    }

    @Test("takes -f as every other command does, beside positional paths; neither is a usage error")
    func filenameOption() async throws {
        let result = try await SerinProcess.run(["validate", "-f", "examples/seed", "examples/canary"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("10 resources, 0 errors"), "\(result.stdout)")
        let none = try await SerinProcess.run(["validate"])
        #expect(none.status == 64)
        #expect(none.stderr.contains("name the manifests to check"), "\(none.stderr)")
    }

    @Test("lists problems as a compiler does, by file in reading order, then line: a reference's error comes with its file's other errors, not after every field error")
    func problemsInFileOrder() async throws {
        let directory = try SerinProcess.temporaryDirectory()
        let seed = SerinProcess.repositoryRoot.appendingPathComponent("examples/seed")
        for name in try FileManager.default.contentsOfDirectory(atPath: seed.path) where name.hasSuffix(".yaml") {
            var text = try String(contentsOf: seed.appendingPathComponent(name), encoding: .utf8)
            // A field error late in the reading order, and two broken references in the first file.
            if name == "web-v2-service.yaml" { text = text.replacing("port: 80", with: "port: eighty") }
            if name == "web-gateway-virtualservice.yaml" {
                text = text.replacing("  - web-gateway\n", with: "  - web-gatewy\n").replacing("host: web-v1-service", with: "host: web-v3-service")
            }
            try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        let result = try await SerinProcess.run(["validate", directory.path])
        #expect(result.status == 1)
        let located = result.stderr.split(separator: "\n").filter { $0.hasPrefix(directory.path) }
        let files = located.map { $0.dropFirst(directory.path.count + 1).prefix { $0 != ":" } }
        #expect(files == [
            "web-gateway-virtualservice.yaml", "web-gateway-virtualservice.yaml", "web-v1-deployment.yaml",
            "web-v2-deployment.yaml", "web-v2-service.yaml",
        ], "\(result.stderr)")
        #expect(located.first?.contains(":24:5: error: gateway default/web-gatewy does not exist") == true, "\(result.stderr)")
        #expect(located.last?.contains(":8:11: error: spec.ports[0].port: expected an integer") == true, "\(result.stderr)")
    }

    @Test("a Canary on a Deployment checked alone: its MetricTemplate and AlertProvider, read from the cluster by serin controller, are warnings; exit 0")
    func deploymentCanaryAloneWarnsOfClusterReferences() async throws {
        let directory = try SerinProcess.temporaryDirectory()
        let canary = directory.appendingPathComponent("canary.yaml")
        let text = """
            apiVersion: flagger.app/v1beta1
            kind: Canary
            metadata: {name: podinfo, namespace: test}
            spec:
              targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
              service: {port: 9898}
              analysis:
                interval: 1m
                threshold: 5
                maxWeight: 50
                stepWeight: 10
                metrics:
                - name: not-found-percentage
                  templateRef: {name: not-found-percentage, namespace: istio-system}
                  thresholdRange: {max: 5}
                alerts:
                - name: on-call
                  providerRef: {name: on-call, namespace: flagger}

            """
        try text.write(to: canary, atomically: true, encoding: .utf8)
        let alone = try await SerinProcess.run(["validate", canary.path])
        #expect(alone.status == 0, "\(alone.stderr)")
        #expect(alone.stdout.contains("1 resource, 0 errors, 2 warnings"), "\(alone.stdout)")
        #expect(alone.stderr.contains(
            "canary.yaml:14:20: warning: MetricTemplate istio-system/not-found-percentage is not in these files: serin controller reads it from the cluster"
        ), "\(alone.stderr)")
        #expect(alone.stderr.contains("canary.yaml:18:20: warning: alert on-call: AlertProvider flagger/on-call is not in these files"), "\(alone.stderr)")

        // A Canary on a VirtualService is run from its files by serin up: there the same references stay errors.
        let onRoutes = text.replacing("{apiVersion: apps/v1, kind: Deployment, name: podinfo}", with: "{name: podinfo}")
            .replacing("  service: {port: 9898}\n", with: "  stable: {host: podinfo-primary}\n  canary: {host: podinfo-canary}\n")
        try onRoutes.write(to: canary, atomically: true, encoding: .utf8)
        let routed = try await SerinProcess.run(["validate", canary.path])
        #expect(routed.status == 1)
        #expect(routed.stderr.contains("error: MetricTemplate istio-system/not-found-percentage does not exist"), "\(routed.stderr)")
        #expect(routed.stderr.contains("error: alert on-call: AlertProvider flagger/on-call does not exist"), "\(routed.stderr)")
    }

    @Test("a file holding no resource (empty, or comments and separators only) is a warning, as serin apply refuses it; exit 0")
    func emptyFileWarns() async throws {
        let directory = try SerinProcess.temporaryDirectory()
        let empty = directory.appendingPathComponent("empty.yaml")
        try "".write(to: empty, atomically: true, encoding: .utf8)
        let comments = directory.appendingPathComponent("comments.yaml")
        try "# nothing yet\n---\n".write(to: comments, atomically: true, encoding: .utf8)
        for file in [empty, comments] {
            let result = try await SerinProcess.run(["validate", "-f", file.path])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("0 resources, 0 errors, 1 warning"), "\(result.stdout)")
            #expect(result.stderr.contains("warning: \(file.path) holds no resource: serin apply would refuse it"), "\(result.stderr)")
        }
        let seed = try await SerinProcess.run(["validate", "examples/seed", "-f", empty.path])
        #expect(!seed.stderr.contains("holds no resource"), "\(seed.stderr)")
        // A directory with no manifest file: the summary counts every warning said, the loader's too.
        let bare = try SerinProcess.temporaryDirectory()
        let nothing = try await SerinProcess.run(["validate", bare.path])
        #expect(nothing.status == 0, "\(nothing.stderr)")
        #expect(nothing.stderr.components(separatedBy: "warning: ").count - 1 == 2, "\(nothing.stderr)")
        #expect(nothing.stdout.contains("0 resources, 0 errors, 2 warnings"), "\(nothing.stdout)")
    }

    @Test("reports a bad weight sum at its line and column and exits 1")
    func badWeights() async throws {
        let directory = try SerinProcess.temporaryDirectory()
        let file = directory.appendingPathComponent("vs.yaml")
        try """
            apiVersion: networking.istio.io/v1beta1
            kind: Gateway
            metadata:
              name: web-gateway
            spec:
              servers:
              - port: {number: 80, name: http, protocol: HTTP}
                hosts: ["*"]
            ---
            apiVersion: networking.istio.io/v1beta1
            kind: VirtualService
            metadata:
              name: web-virtualservice
            spec:
              hosts: ["*"]
              gateways: [web-gateway]
              http:
              - route:
                - destination: {host: web-v1-service}
                  weight: 0
                - destination: {host: web-v3-service}
                  weight: 0

            """.write(to: file, atomically: true, encoding: .utf8)
        let result = try await SerinProcess.run(["validate", file.path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("\(file.path):19:5: error: weights sum to 0"), "\(result.stderr)")
        #expect(result.stderr.contains("web-v3-service"))
    }

    @Test("a Canary whose release cannot begin from the routes the files hold is an error at its field, as serin up would refuse it")
    func releaseThatCannotBegin() async throws {
        let directory = try SerinProcess.temporaryDirectory()
        let seed = SerinProcess.repositoryRoot.appendingPathComponent("examples/seed")
        for name in ["web-gateway-virtualservice.yaml", "web-serviceentry.yaml", "web-v1-service.yaml", "web-v2-service.yaml"] {
            try FileManager.default.copyItem(at: seed.appendingPathComponent(name), to: directory.appendingPathComponent(name))
        }
        // The 90/10 split: two versions take traffic, and the Canary below does not say which one v3 replaces.
        let split = try String(contentsOf: seed.appendingPathComponent("steps/web-gateway-virtualservice-90-10.yaml"), encoding: .utf8)
        try split.write(to: directory.appendingPathComponent("web-gateway-virtualservice.yaml"), atomically: true, encoding: .utf8)
        try SeedManifests.serviceEntry("web-v3-service", port: 18083, version: "v3").text.write(
            to: directory.appendingPathComponent("web-v3-service.yaml"), atomically: true, encoding: .utf8)
        try """
            apiVersion: serin.dev/v1alpha1
            kind: Canary
            metadata: {name: web}
            spec:
              targetRef: {apiVersion: networking.istio.io/v1beta1, kind: VirtualService, name: web-virtualservice}
              canary:
                host: web-v3-service
              analysis: {interval: 10s, threshold: 3, stepWeight: 10, maxWeight: 50}
            """.write(to: directory.appendingPathComponent("canary.yaml"), atomically: true, encoding: .utf8)
        let result = try await SerinProcess.run(["validate", directory.path])
        #expect(result.status == 1)
        #expect(result.stderr.contains(
            "canary.yaml:7:11: error: Canary web: VirtualService web-virtualservice sends traffic to web-v1-service:80 and web-v2-service:80; write spec.stable"),
            "\(result.stderr)")
        #expect(result.stdout.contains("1 error"), "\(result.stdout)")
    }

    @Test("names a missing path, counts it in the summary with the other errors, and exits 1")
    func missingPath() async throws {
        let result = try await SerinProcess.run(["validate", "does/not/exist.yaml", "examples/seed"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("does/not/exist.yaml"))
        #expect(result.stdout.contains("8 resources, 1 error, "), "\(result.stdout)")
    }

    @Test("a document of a kind Serin does not read is a warning at its line; with --strict it is an error and the exit status 1")
    func strictRefusesSkippedKinds() async throws {
        let directory = try SerinProcess.temporaryDirectory()
        let file = directory.appendingPathComponent("extra.yaml")
        try "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n".write(to: file, atomically: true, encoding: .utf8)
        try await Self.warnsThenRefusesWhenStrict(file.path, "\(file.path):1:1: %@: skipped: kind ConfigMap (v1) is not understood by Serin")
    }

    /// `file` beside the seed: without --strict, `message` (its `%@` the severity) is a warning and the status 0; with
    /// it, an error, the only one, and the status 1.
    static func warnsThenRefusesWhenStrict(_ file: String, _ message: String) async throws {
        let lenient = try await SerinProcess.run(["validate", "examples/seed", file])
        #expect(lenient.status == 0, "\(lenient.stderr)")
        #expect(lenient.stderr.contains(message.replacingOccurrences(of: "%@", with: "warning")), "\(lenient.stderr)")
        let strict = try await SerinProcess.run(["validate", "--strict", "examples/seed", file])
        #expect(strict.status == 1)
        #expect(strict.stderr.contains(message.replacingOccurrences(of: "%@", with: "error")), "\(strict.stderr)")
        #expect(strict.stdout.contains("1 error"), "\(strict.stdout)")
    }

    @Test("a misspelt field of an Istio resource is a warning that names the field it is closest to; with --strict it is an error and the exit status 1")
    func strictRefusesUnknownFields() async throws {
        let directory = try SerinProcess.temporaryDirectory()
        let file = directory.appendingPathComponent("web-v1-rule.yaml")
        try """
            apiVersion: networking.istio.io/v1beta1
            kind: DestinationRule
            metadata: {name: web-v1}
            spec:
              host: web-v1-service
              trafficPolcy: {connectionPool: {tcp: {maxConnections: 10}}}

            """.write(to: file, atomically: true, encoding: .utf8)
        try await Self.warnsThenRefusesWhenStrict(file.path, "\(file.path):6:3: %@: unknown field spec.trafficPolcy (did you mean trafficPolicy?)")
    }

    @Test("a misspelt field of a Canary is an error without --strict: its default would decide when a bad release rolls back")
    func misspeltCanaryFieldIsAnError() async throws {
        let directory = try SerinProcess.temporaryDirectory()
        let canary = try String(contentsOfFile: "examples/canary/web-canary.yaml", encoding: .utf8)
        #expect(canary.contains("    threshold: "), "the example sets analysis.threshold")
        let file = directory.appendingPathComponent("web-canary.yaml")
        try canary.replacingOccurrences(of: "    threshold: ", with: "    treshold: ").write(to: file, atomically: true, encoding: .utf8)
        let result = try await SerinProcess.run(["validate", "examples/seed", file.path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("error: unknown field spec.analysis.treshold (did you mean threshold?)"), "\(result.stderr)")
    }
}
