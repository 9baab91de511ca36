import Foundation
import SerinCore
import SerinManifests
import Testing

/// Flagger's `analysis.primaryReadyThreshold`, `canaryReadyThreshold` and a webhook's `retries` and `disableTLS`, read
/// as Flagger writes them, and refused at the field when Serin could not do what they say.
@Suite("Flagger's ready thresholds and webhook retries decoding")
struct FlaggerAnalysisFieldsDecodingTests {
    private func decode(adding lines: String) -> (spec: CanarySpec?, messages: [String]) {
        Fixture.decodeCanary(CanaryDecodingTests.minimal.replacingOccurrences(of: "    maxWeight: 50", with: "    maxWeight: 50\n" + lines))
    }

    @Test("primaryReadyThreshold and canaryReadyThreshold are read as written, 100 when left out as in Flagger")
    func readyThresholds() {
        let written = decode(adding: "    primaryReadyThreshold: 50\n    canaryReadyThreshold: 0")
        // On this Canary of a VirtualService (no Deployment) they are read, and said not to apply.
        #expect(written.messages.count == 2 && written.messages.allSatisfy { $0.contains("warning:") && $0.contains("is not applied") }, "\(written.messages)")
        #expect(written.spec?.analysis.primaryReadyThreshold == 50 && written.spec?.analysis.canaryReadyThreshold == 0)
        let omitted = decode(adding: "")
        #expect(omitted.spec?.analysis.primaryReadyThreshold == 100 && omitted.spec?.analysis.canaryReadyThreshold == 100)
    }

    @Test("a webhook's retries and disableTLS are read as written, 0 and false when left out")
    func webhookRetriesAndDisableTLS() {
        let written = decode(adding: "    webhooks:\n    - {name: gate, url: \"https://x/\", retries: 3, disableTLS: true}\n    - {name: plain, url: \"http://y/\"}")
        #expect(written.messages.isEmpty, "\(written.messages)")
        #expect(written.spec?.analysis.webhooks == [
            WebhookSpec(name: "gate", type: .rollout, url: "https://x/", retries: 3, disableTLS: true),
            WebhookSpec(name: "plain", type: .rollout, url: "http://y/"),
        ])
    }

    @Test("a ready threshold outside 0-100, negative retries or a disableTLS that is not a boolean is refused at its field, saying what was expected", arguments: [
        ("    canaryReadyThreshold: 150",
         "test.yaml:12:27: error: spec.analysis.canaryReadyThreshold is 150, expected a percentage from 0 to 100 of the canary Deployment's updated replicas that must be available (default 100)"),
        ("    primaryReadyThreshold: -1",
         "test.yaml:12:28: error: spec.analysis.primaryReadyThreshold is -1, expected a percentage from 0 to 100 of the primary Deployment's updated replicas that must be available (default 100)"),
        ("    primaryReadyThreshold: half",
         "test.yaml:12:28: error: spec.analysis.primaryReadyThreshold: expected an integer, got string \"half\""),
        ("    webhooks:\n    - {name: gate, url: \"http://x/\", retries: -2}",
         "test.yaml:13:47: error: spec.analysis.webhooks[0].retries is -2, expected how many more times a failed call is made (0 or more; default 0)"),
        ("    webhooks:\n    - {name: gate, url: \"https://x/\", disableTLS: yes please}",
         "test.yaml:13:51: error: spec.analysis.webhooks[0].disableTLS: expected a boolean, got string \"yes please\""),
    ])
    func refused(lines: String, expected: String) {
        let (spec, messages) = decode(adding: lines)
        #expect(spec == nil)
        #expect(messages.filter { !$0.contains("is not applied") } == [expected])
    }

    @Test("disableTLS on an http:// hook is a warning: there is no certificate to verify")
    func disableTLSOnHTTP() {
        let (spec, messages) = decode(adding: "    webhooks:\n    - {name: gate, url: \"http://x/\", disableTLS: true}")
        #expect(spec?.analysis.webhooks.first?.disableTLS == true)
        #expect(messages == ["test.yaml:13:50: warning: spec.analysis.webhooks[0].disableTLS does nothing for http://x/: an http:// hook has no certificate to verify"])
    }
}
