import Foundation
import NIOCore
import NIOHTTP1
import SerinController
import SerinCore
import SerinEmbedded
import SerinGateway
import SerinListener
import SerinServer
import SerinTesting
import Testing

/// The admin API's OpenAPI document: the one in the repository is the one served, and the running API
/// answers as it says (schemathesis fuzzing every operation on 127.0.0.1).
@Suite("OpenAPI document", .timeLimit(.minutes(5)))
struct OpenAPIConformanceTests {
    @Test("/openapi.json serves docs/openapi.json byte for byte")
    func servedDocumentIsTheRepositoryOne() async throws {
        try await CanaryRolloutTests.withHarness(canary: SeedManifests.canary()) { harness in
            let client = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: harness.runtime.admin.port, group: harness.backends.group)
            let served = try await client.send(.GET, "/openapi.json", timeout: .seconds(20))
            await client.close()
            let file = try Data(contentsOf: SerinProcess.repositoryRoot.appendingPathComponent("docs/openapi.json"))
            #expect(served.status == 200)
            #expect(served.header("content-type") == "application/json")
            let identical = served.body == Array(file)
            let servedLines = served.bodyText.split(separator: "\n", omittingEmptySubsequences: false)
            let fileLines = String(decoding: file, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            let difference = zip(servedLines, fileLines).enumerated().first { $0.element.0 != $0.element.1 }
            #expect(identical, """
                docs/openapi.json and what /openapi.json serves differ (the EmbedText plugin builds the file in): \
                \(difference.map { "line \($0.offset + 1): served \($0.element.0), file \($0.element.1)" }
                    ?? "served \(servedLines.count) lines, file \(fileLines.count)")
                """)
            let document = try #require(try JSONSerialization.jsonObject(with: file) as? [String: Any])
            #expect(document["openapi"] as? String == "3.0.3")
        }
    }

    @Test("the document names every phase and every release outcome the API answers with, and no other")
    func enumsListEveryValue() throws {
        let file = try Data(contentsOf: SerinProcess.repositoryRoot.appendingPathComponent("docs/openapi.json"))
        let document = try #require(try JSONSerialization.jsonObject(with: file) as? [String: Any])
        let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: Any])
        let phases = (schemas["Phase"] as? [String: Any])?["enum"] as? [String]
        #expect(phases == RolloutPhase.allCases.map(\.rawValue))
        let release = (schemas["Release"] as? [String: Any])?["properties"] as? [String: Any]
        let outcomes = (release?["outcome"] as? [String: Any])?["enum"] as? [String]
        #expect(outcomes.map(Set.init) == Set(Release.Outcome.allCases.map(\.rawValue)))
    }

    @Test("serin gateway's admin listener documents the paths it serves, no Canary's, and answers each one it documents")
    func gatewayModeDocumentsWhatItServes() async throws {
        let backends = TestBackends()
        let decoded = SeedManifests.resources(SeedManifests.sources(v1: try await backends.freePort(), v2: try await backends.freePort()))
        #expect(decoded.errors.isEmpty, "\(decoded.errors)")
        let runtime = try await GatewayRuntime.start(
            resources: decoded.resources, threads: 1, bindHost: "127.0.0.1", portMapping: .ephemeral, adminHost: "127.0.0.1", adminPort: 0
        )
        let check: () async throws -> Void = {
            let client = try await SimpleHTTPClient.connect(host: "127.0.0.1", port: runtime.admin.port, group: backends.group)
            defer { Task { await client.close() } }
            let served = try await client.send(.GET, "/openapi.json", timeout: .seconds(20))
            #expect(served.status == 200 && served.header("content-type") == "application/json", "\(served.status) \(served.bodyText)")
            let document = try #require(try JSONSerialization.jsonObject(with: Data(served.body)) as? [String: Any])
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            #expect(Set(paths.keys) == ["/healthz", "/readyz", "/version", "/config", "/apply", "/route", "/metrics", "/openapi.json"])
            for (path, operations) in paths where operations["get"] != nil {
                let answer = try await client.send(.GET, path == "/route" ? "/route?host=example.com" : path, timeout: .seconds(20))
                #expect(answer.status == 200, "GET \(path): \(answer.status) \(answer.bodyText.prefix(200))")
            }
        }
        let outcome: Result<Void, any Error>
        do { outcome = .success(try await check()) } catch { outcome = .failure(error) }
        await runtime.shutdown()
        await backends.shutdown()
        try outcome.get()
    }

    @Test("schemathesis installed when CI is true; elsewhere its absence is printed")
    func installed() {
        let ci = ProcessInfo.processInfo.environment["CI"] == "true"
        if Schemathesis.executable == nil && !ci { print("skipping the OpenAPI conformance run: \(Schemathesis.skipReason)") }
        #expect(Schemathesis.executable != nil || !ci, "CI=true but \(Schemathesis.skipReason)")
    }

    /// A schema-valid `/apply` body can still hold YAML that does not validate: 422 is the documented answer.
    static let configuration = """
        [checks.positive_data_acceptance]
        expected-statuses = ["2xx", "401", "404", "409", "422"]

        """

    @Test(
        "every operation answers as docs/openapi.json says, with the admin token guarding every POST",
        .enabled(if: Schemathesis.shouldRun, Comment(rawValue: Schemathesis.skipReason))
    )
    func conformsUnderFuzzing() async throws {
        let token = "conformance-token"
        let canary = SeedManifests.canary(interval: "3s", stepWeights: [10, 20, 30, 40, 50, 60, 70, 80, 90], progressDeadline: "5m")
        try await CanaryRolloutTests.withHarness(canary: canary, adminAccess: AdminAccess(token: token, readRequiresToken: false)) { harness in
            _ = try await harness.waitFor("the rollout under way") { $0.canaryWeight >= 10 }
            let result = try await Schemathesis.run(
                baseURL: harness.runtime.adminURL,
                arguments: [
                    // The event stream never ends by itself; its own tests cover it.
                    "--exclude-path", "/events",
                    "--checks", "all", "--max-examples", "25", "--seed", "20261127", "--workers", "1",
                    "--request-timeout", "30", "--header", "Authorization: Bearer \(token)",
                ],
                configuration: Self.configuration
            )
            #expect(result.status == 0, "schemathesis found problems:\n\(result.stdout.suffix(6000))\n\(result.stderr.suffix(2000))")
            #expect(result.stdout.contains("Tested:"), "\(result.stdout.suffix(2000))")
        }
    }
}
