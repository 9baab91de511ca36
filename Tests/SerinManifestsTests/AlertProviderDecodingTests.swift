import Foundation
import SerinCore
import SerinManifests
import Testing

@Suite("AlertProvider decoding")
struct AlertProviderDecodingTests {
    /// Flagger's documented example, verbatim but for the Secret's data.
    private static let flagger = """
        apiVersion: flagger.app/v1beta1
        kind: AlertProvider
        metadata:
          name: on-call
          namespace: flagger
        spec:
          type: slack
          channel: on-call-alerts
          username: flagger
          address: https://hooks.slack.com/services/YOUR/SLACK/WEBHOOK
          proxy: http://my-http-proxy.com
          secretRef:
            name: on-call-url
        """

    @Test("decodes Flagger's AlertProvider unchanged, under Flagger's and Serin's API versions alike")
    func bothAPIVersions() throws {
        let expected = AlertProvider(
            name: ResourceName(namespace: "flagger", name: "on-call"), type: .slack, channel: "on-call-alerts", username: "flagger",
            address: "https://hooks.slack.com/services/YOUR/SLACK/WEBHOOK", proxy: "http://my-http-proxy.com", secretRef: "on-call-url")
        for apiVersion in ["flagger.app/v1beta1", "serin.dev/v1alpha1"] {
            let (resources, diagnostics) = Fixture.decode(Self.flagger.replacingOccurrences(of: "flagger.app/v1beta1", with: apiVersion))
            #expect(diagnostics.isEmpty, "\(Fixture.messages(diagnostics))")
            #expect(resources.first?.resource == .alertProvider(expected))
            #expect(resources.first?.label == "AlertProvider flagger/on-call")
        }
    }

    @Test("channel and username take Flagger's defaults (general, and serin for the bot)")
    func defaults() {
        let (resources, _) = Fixture.decode("""
            apiVersion: serin.dev/v1alpha1
            kind: AlertProvider
            metadata: {name: chat}
            spec: {type: gchat, address: "https://chat.googleapis.com/v1/spaces/X/messages?key=K"}
            """)
        #expect(resources.alertProviders[ResourceName(name: "chat")]?.channel == "general")
        #expect(resources.alertProviders[ResourceName(name: "chat")]?.username == "serin")
    }

    @Test("a bad provider is refused saying where and what was expected, without repeating the URL", arguments: [
        ("spec: {type: pagerduty, address: \"https://x\"}",
         "test.yaml:4:14: error: spec.type: expected one of slack, msteams, discord, gchat, rocket, webhook, got \"pagerduty\""),
        ("spec: {type: slack}",
         "test.yaml:4:7: error: spec: has neither address nor secretRef; write the webhook URL or the Secret holding it (key address)"),
        ("spec: {type: slack, address: \"hooks.slack.com/T/B/secret\"}",
         "test.yaml:4:30: error: spec.address: expected an http:// or https:// URL with a host"),
        ("spec: {type: slack, secretRef: {name: \"\"}}",
         "test.yaml:4:39: error: spec.secretRef.name is empty, expected the name of a Secret in the provider's namespace"),
    ])
    func refused(spec: String, message: String) {
        let (resources, diagnostics) = Fixture.decode("apiVersion: serin.dev/v1alpha1\nkind: AlertProvider\nmetadata: {name: on-call}\n" + spec)
        #expect(resources.isEmpty)
        #expect(Fixture.messages(diagnostics) == [message])
    }

    @Test("a Canary's analysis.alerts: severity defaults to info, providerRef.namespace to the Canary's")
    func canaryAlerts() throws {
        let set = Fixture.set(Fixture.world + Fixture.virtualService + Self.canary(alerts: """
                alerts:
                - name: on-call Slack
                  severity: error
                  providerRef: {name: on-call, namespace: flagger}
                - name: team
                  providerRef: {name: team-chat}
            """))
        let alerts = try #require(set.canaries.first?.analysis.alerts)
        #expect(alerts == [
            AlertSpec(name: "on-call Slack", severity: .error, provider: ResourceName(namespace: "flagger", name: "on-call")),
            AlertSpec(name: "team", severity: .info, provider: ResourceName(name: "team-chat")),
        ])
    }

    @Test("an alert naming an AlertProvider the files do not have is an error at its providerRef")
    func unknownProvider() {
        let set = Fixture.set(Fixture.world + Fixture.virtualService + Self.canary(alerts: """
                alerts:
                - name: on-call
                  severity: sloud
                  providerRef: {name: on-call}
            """))
        #expect(set.canaries.isEmpty)
        #expect(Fixture.messages(set.errors).contains { $0.hasSuffix("error: spec.analysis.alerts[0].severity: expected one of info, warn, error, got \"sloud\"") },
                "\(Fixture.messages(set.errors))")
        let missing = Fixture.set(Fixture.world + Fixture.virtualService + Self.canary(alerts: """
                alerts:
                - name: on-call
                  providerRef: {name: on-call}
            """))
        let errors = Fixture.messages(missing.errors)
        #expect(errors.count == 1, "\(errors)")
        #expect(errors.first?.hasPrefix("test.yaml:") == true)
        #expect(errors.first?.hasSuffix("error: alert on-call: AlertProvider default/on-call does not exist") == true, "\(errors)")
    }

    /// The small valid Canary of the decoding tests with `alerts` (indented under analysis) added.
    static func canary(alerts: String) -> String {
        CanaryDecodingTests.minimal + "\n" + alerts + "\n"
    }
}

@Suite("Alerts example")
struct AlertsExampleTests {
    @Test("examples/alerts loads with the seed: two providers, the Slack address from its Secret, the Canary's two alerts")
    func example() throws {
        let alerts = Fixture.repositoryRoot.appendingPathComponent("examples/alerts").path
        let loaded = ManifestLoader.load(paths: [Fixture.seedDirectory, alerts], recursive: false)
        #expect(loaded.diagnostics.isEmpty)
        let set = ManifestSet(sources: loaded.sources)
        #expect(!set.hasErrors, "\(Fixture.messages(set.errors))")
        #expect(set.warnings.allSatisfy { $0.message.contains("extensions/v1beta1") }, "\(Fixture.messages(set.warnings))")
        #expect(set.canaries.first?.analysis.alerts.map(\.severity) == [.error, .info])
        let slack = try set.resources.alertEndpoint(for: ResourceName(name: "on-call")).get()
        #expect(slack.address == "https://hooks.slack.com/services/YOUR/SLACK/WEBHOOK")
        #expect(slack.provider.type == .slack)
        #expect("\(slack)" == "slack provider 'default/on-call'", "an endpoint's description never shows its address")
        let teams = try set.resources.alertEndpoint(for: ResourceName(name: "dev-teams")).get()
        #expect(teams.provider.type == .msteams)
        #expect(!"\(teams.provider)".contains("office.com"))
    }

    @Test("a provider whose Secret is not among the files is warned about, and cannot be posted to by these files")
    func missingSecret() {
        let set = Fixture.set("""
            apiVersion: flagger.app/v1beta1
            kind: AlertProvider
            metadata: {name: on-call}
            spec: {type: slack, secretRef: {name: on-call-url}}
            """)
        #expect(Fixture.messages(set.warnings) == [
            "test.yaml:4:32: warning: AlertProvider default/on-call: secretRef names Secret on-call-url, which is not in these files; "
                + "serin up cannot post its alerts without it (give the Secret with -f), serin controller reads it from its cluster",
        ])
        #expect(set.resources.alertEndpoint(for: ResourceName(name: "on-call")).failure?.reason
                == "slack provider 'default/on-call': Secret default/on-call-url does not exist")
    }
}

extension Result {
    fileprivate var failure: Failure? {
        if case .failure(let failure) = self { failure } else { nil }
    }
}
