import Foundation
import Logging
import SerinCore
import SerinKubernetes
import SerinController
import SerinTesting
import Testing

/// Rollout state kept where Kubernetes keeps it: in the Canary's status subresource and in Events, through the
/// API-server double.
@Suite("Kubernetes rollout store", .timeLimit(.minutes(2)))
struct KubernetesRolloutStoreTests {
    static let web = ResourceName(namespace: "shop", name: "web")
    static let key = KubernetesAPIServer.ObjectKey(groupVersion: "serin.dev/v1alpha1", resource: "canaries", namespace: "shop", name: "web")

    static func t(_ seconds: Int) -> RolloutInstant { RolloutInstant(sinceEpoch: .seconds(1_800_000_000 + seconds)) }

    /// A rollout at its second step with one failed check, and the events it recorded on the way.
    static func midRollout() throws -> (Rollout, [RolloutEvent]) {
        try RolloutFixture.midRollout(web, start: t(0))
    }

    static let canaryObject: JSONValue = [
        "apiVersion": "serin.dev/v1alpha1", "kind": "Canary", "metadata": ["name": "web", "namespace": "shop"],
        "spec": ["targetRef": ["name": "web-virtualservice"], "canary": ["host": "web-v2-service"], "analysis": ["interval": "30s"]],
    ]

    @Test("a save writes the status people read and the state a restarted controller resumes from, and posts Events")
    func saveAndRestore() async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            server.put(Self.canaryObject, at: Self.key)
            let store = KubernetesRolloutStore(api: api)
            let (rollout, events) = try Self.midRollout()
            let measurement = RecordedMeasurement(
                canary: Self.web, instant: Self.t(62), metric: "request-success-rate", canaryValue: 99.5, stableValue: 99.9,
                canaryRequests: 120, stableRequests: 1_080, canaryWeight: 50,
                // A verdict with its reason: the CRD's status schema must keep what the store writes of it.
                verdict: .fail(reason: "request-success-rate 99.50% < 99.9%"),
                // Taken on mirrored copies of requests: the CRD's status schema must keep the mark too.
                mirrored: true
            )
            // A person's command answered before the save: the save keeps the answer.
            let request = try #require(
                CanaryCommandChannel.pendingRequest(in: try Self.canaryObject.applying(CanaryCommandChannel.request(.pause, id: "c1", on: Self.canaryObject)))
            )
            let answer = CanaryCommandChannel.Answer(to: request, reply: .rejected("web: not now"))
            try await store.recordAnswer(answer, for: Self.web)
            // A MetricTemplate's value counts no requests: its entry says none, rather than 0.
            let custom = RecordedMeasurement(
                canary: Self.web, instant: Self.t(62), metric: "upstream-errors", canaryValue: 0.25, stableValue: nil,
                canaryRequests: nil, stableRequests: nil, canaryWeight: 50, verdict: .pass)
            try await store.save(rollout, events: events, measurements: [measurement, custom])

            let status = try #require(server.object(Self.key)?["status"])
            #expect(status["lastCommand"].flatMap(CanaryCommandChannel.Answer.init(json:)) == answer)
            #expect(status["phase"] == .string(rollout.status.phase.rawValue))
            #expect(status["canaryWeight"] == .number(Double(rollout.status.canaryWeight)))
            #expect(status["step"] == .string("\((rollout.status.stepIndex ?? -1) + 1)/3"))
            #expect(status["failedChecks"] == 1)
            #expect(status["conditions"]?[0]?["type"] == "Promoted")
            #expect(status["conditions"]?[0]?["status"] == "Unknown")
            #expect(status["lastMeasurements"]?[0]?["metric"] == "request-success-rate")
            #expect(status["lastMeasurements"]?[0]?["reason"] == "request-success-rate 99.50% < 99.9%")
            #expect(status["lastMeasurements"]?[0]?["canaryRequests"] == 120)
            #expect(status["lastMeasurements"]?[1]?["metric"] == "upstream-errors")
            #expect(status["lastMeasurements"]?[1]?["canaryRequests"] == nil && status["lastMeasurements"]?[1]?["stableRequests"] == nil,
                    "\(String(describing: status["lastMeasurements"]))")
            #expect(KubernetesRolloutStore.lastMeasurements(in: try #require(server.object(Self.key))).map(\.canaryRequests) == [120, nil])
            #expect(status["lastMeasurements"]?[0]?["mirrored"] == true && status["lastMeasurements"]?[1]?["mirrored"] == nil)
            #expect(KubernetesRolloutStore.lastMeasurements(in: try #require(server.object(Self.key))).map(\.mirrored) == [true, nil])
            #expect(server.object(Self.key)?["spec"] == Self.canaryObject["spec"], "a status write leaves the spec alone")
            // What the store writes is what the CRD's status schema allows (the API server would prune the rest).
            var written = try #require(server.object(Self.key))
            if case .object(var fields) = written {
                fields["spec"] = try #require(try KubernetesManifestTests.documents("examples/kubernetes/web-canary.yaml").first?["spec"])
                written = .object(fields)
            }
            let problems = try KubernetesManifestTests.canarySchema().problems(in: written)
            #expect(problems.isEmpty, "\(problems)")

            // A new controller (a restart, or another leader) reads the same rollout back.
            let restarted = KubernetesRolloutStore(api: api)
            #expect(try await restarted.loadRollouts() == [Self.web: rollout])
            let stored = try await restarted.events(for: Self.web, limit: nil)
            #expect(stored.map(\.message) == events.map(\.message))
            #expect(stored.map(\.severity) == events.map(\.severity))
            #expect(try await restarted.events(for: Self.web, limit: 2).map(\.message) == events.suffix(2).map(\.message))
            #expect(try await store.measurements(for: Self.web, limit: nil) == [measurement, custom])
        }
    }

    /// Saves the mid-rollout on the Canary while another client changes it by `edit` between the save's read and its
    /// write (the write is then a 409, and the save reads the Canary again): the rollout saved.
    static func saveRacing(_ edit: [JSONPatchOperation], _ server: KubernetesAPIServer, _ api: any KubernetesAPI) async throws -> Rollout {
        server.put(Self.canaryObject, at: Self.key)
        let store = KubernetesRolloutStore(api: api)
        server.beforeNext("PUT") {
            server.edit(Self.key) { object in object = (try? object.applying(edit)) ?? object }
        }
        let (rollout, events) = try Self.midRollout()
        try await store.save(rollout, events: events, measurements: [])
        return rollout
    }

    @Test("a Canary edited while the status is written gets the status on its new version; its edit stands")
    func statusConflictRetried() async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            let rollout = try await Self.saveRacing([.replace(path: ["spec", "canary", "host"], value: "web-v3-service")], server, api)
            let stored = server.object(Self.key)
            #expect(stored?["spec"]?["canary"]?["host"] == "web-v3-service")
            #expect(stored?["status"]?["phase"] == .string(rollout.status.phase.rawValue))
            #expect(server.requestLog.filter { $0.hasPrefix("PUT") }.count == 2, "one conflict, one write")
        }
    }

    @Test("a save that reaches a Canary after its revert on deletion marked it Terminating keeps that phase, and writes the rest")
    func saveKeepsTerminating() async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            // The revert marks the Canary between the save's read and its write.
            let rollout = try await Self.saveRacing([
                .add(path: ["metadata", "deletionTimestamp"], value: "2027-01-15T08:00:00Z"),
                .add(path: ["metadata", "finalizers"], value: ["serin.dev/revert-on-deletion"]),
                .add(path: ["status"], value: ["phase": "Terminating"]),
            ], server, api)
            let status = server.object(Self.key)?["status"]
            #expect(status?["phase"] == "Terminating", "\(String(describing: status))")
            #expect(status?["canaryWeight"] == .number(Double(rollout.status.canaryWeight)), "the rest of the save is written")
        }
    }

    @Test("a status state Serin cannot read is an error that names the Canary, not a silent fresh start")
    func unreadableState() async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            var broken = Self.canaryObject
            if case .object(var fields) = broken {
                fields["status"] = ["phase": "Progressing", "state": "{not a rollout"]
                broken = .object(fields)
            }
            server.put(broken, at: Self.key)
            do {
                _ = try await KubernetesRolloutStore(api: api).loadRollouts()
                Issue.record("an unreadable state must be an error")
            } catch let failure as KubernetesRolloutStore.Failure {
                #expect(failure.message.hasPrefix("shop/web: status.state is not a rollout Serin can read"), "\(failure)")
            }
        }
    }

    @Test("a command's answer the API server fails to take is written again, and the command is carried out once")
    func answerWrittenAgainAfterAFailure() async throws {
        try await KubernetesAPIClientTests.withServer { server, api in
            let requested = try Self.canaryObject.applying(CanaryCommandChannel.request(.pause, id: "c7", on: Self.canaryObject))
            server.put(requested, at: Self.key)
            let request = try #require(CanaryCommandChannel.pendingRequest(in: requested))
            let executions = CallLog()
            let handler = CanaryCommandChannel.handler(
                execute: { command, _ in
                    executions.record(command.rawValue)
                    return .rejected("web: not now")
                },
                store: KubernetesRolloutStore(api: api), logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                retryDelays: [.milliseconds(10), .milliseconds(10)]
            )
            // The first write of the answer, and the read before its second, fail.
            server.failNext(2, status: 503, reason: "ServiceUnavailable")
            await handler(request)
            let answer = server.object(Self.key)?["status"]?["lastCommand"].flatMap(CanaryCommandChannel.Answer.init(json:))
            #expect(answer?.id == "c7" && answer?.accepted == false && answer?.message == "web: not now")
            #expect(executions.entries == ["pause"])
        }
    }
}
