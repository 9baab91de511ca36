import Foundation
import Logging
import NIOPosix
import SerinCore
import SerinKubernetes
import SerinTesting
import Testing

/// Alerts on Kubernetes: the Canary's `analysis.alerts` name a Flagger AlertProvider in the cluster, whose
/// Secret holds the webhook URL; both are read through the API when an alert is sent.
@Suite("Kubernetes alerts", .timeLimit(.minutes(2)))
struct KubernetesAlertTests {
    static let providerKey = KubernetesAPIServer.ObjectKey(
        groupVersion: "flagger.app/v1beta1", resource: "alertproviders", namespace: "default", name: "team-chat")

    /// Flagger's AlertProvider `team-chat` with its address in the Secret `team-chat-url`.
    static func putProvider(_ server: KubernetesAPIServer, type: String, address: String) {
        server.put(
            ["apiVersion": "flagger.app/v1beta1", "kind": "AlertProvider", "metadata": ["name": "team-chat", "namespace": "default"],
             "spec": ["type": .string(type), "channel": "releases", "secretRef": ["name": "team-chat-url"]]],
            at: providerKey)
        let (secret, key) = MetricTemplateSecretTests.secret("team-chat-url", ["address": address + "\n"])
        server.put(secret, at: key)
    }

    @Test("a promotion is told to the channel the cluster's AlertProvider names, at the address its Secret holds")
    func promotionReachesChat() async throws {
        let receiver = try await ChatReceiver.start(group: MultiThreadedEventLoopGroup.singleton)
        try await KubernetesRolloutTests.withController { server, lines in
            Self.putProvider(server, type: "slack", address: receiver.url("slack"))
            let alerts: JSONValue = [["name": "team", "severity": "info", "providerRef": ["name": "team-chat"]]]
            server.put(KubernetesRolloutTests.canary(["interval": "500ms", "threshold": 2, "stepWeights": [50], "alerts": alerts], skipAnalysis: true),
                       at: KubernetesRolloutTests.canaryKey)
            #expect(await eventually(.seconds(30)) { receiver.messages.contains { $0.text.contains("promotion completed") } },
                    "\(receiver.messages.map(\.text)) \(receiver.refusals) \(lines.messages.suffix(5))")
            let texts = receiver.messages.compactMap { ($0.json["attachments"] as? [[String: Any]])?.first?["text"] as? String }
            #expect(texts.first?.hasPrefix("web: rollout started") == true, "in the order they happened: \(texts)")
            #expect(receiver.messages.allSatisfy { $0.json["channel"] as? String == "releases" })
            #expect(!lines.messages.contains { $0.contains(receiver.url("slack")) })
        }
        await receiver.close()
    }

    @Test("a missing AlertProvider is said by name, after the rollout went on, in one warning however many events it misses")
    func missingProvider() async throws {
        try await KubernetesRolloutTests.withController { server, lines in
            let alerts: JSONValue = [["name": "team", "providerRef": ["name": "nobody"]]]
            server.put(KubernetesRolloutTests.canary(["interval": "500ms", "threshold": 2, "stepWeights": [50], "alerts": alerts], skipAnalysis: true),
                       at: KubernetesRolloutTests.canaryKey)
            #expect(await eventually(.seconds(30)) { KubernetesRolloutTests.phase(server) == "Succeeded" })
            let missing = "alert 'team' not delivered after 3 attempts"
            // Two alerted events (started, completed), each given up on: the later one quietly.
            #expect(await lines.eventuallyLogs(missing, "as before", times: 1), "\(lines.messages.suffix(8))")
            let warnings = lines.entries.filter { $0.level == .warning && $0.message.contains(missing) }
            #expect(warnings.map(\.message) == [
                "\(missing): AlertProvider default/nobody does not exist (read from alertproviders.serin.dev and alertproviders.flagger.app) (said once while it fails so)",
            ])
        }
    }

    @Test("an AlertProvider that appears after alerts to it were given up on gets the next ones, and the log says alerts reach it again")
    func providerAppears() async throws {
        let receiver = try await ChatReceiver.start(group: MultiThreadedEventLoopGroup.singleton)
        try await KubernetesRolloutTests.withController { server, lines in
            let alerts: JSONValue = [["name": "team", "providerRef": ["name": "team-chat"]]]
            server.put(KubernetesRolloutTests.canary(["interval": "500ms", "threshold": 2, "stepWeights": [50], "alerts": alerts], skipAnalysis: true),
                       at: KubernetesRolloutTests.canaryKey)
            #expect(await lines.eventuallyLogs("alert 'team' not delivered after 3 attempts: AlertProvider default/team-chat does not exist"))
            // The events after the first wait their turn on the provider's lane, retried: they find it.
            Self.putProvider(server, type: "slack", address: receiver.url("slack"))
            #expect(await eventually(.seconds(30)) { receiver.messages.contains { $0.text.contains("promotion completed") } },
                    "\(lines.messages.suffix(8))")
            #expect(await lines.eventuallyLogs("alert 'team' delivered again"), "\(lines.messages.suffix(8))")
        }
        await receiver.close()
    }
}
