import SerinCore
import Testing

@Suite("HostPattern")
struct HostPatternTests {
    @Test(
        "matches hosts the way Envoy matches virtual host domains",
        arguments: [
            ("*", "anything.example.com", true),
            ("example.com", "example.com", true),
            ("example.com", "EXAMPLE.com", true),
            ("example.com", "www.example.com", false),
            ("*.example.com", "www.example.com", true),
            ("*.example.com", "a.b.example.com", true),
            ("*.example.com", "example.com", false),
            ("*.example.com", "badexample.com", false),
        ]
    )
    func matching(pattern: String, host: String, expected: Bool) {
        #expect(HostPattern(pattern).matches(host) == expected)
    }

    @Test("ranks exact names above longer wildcards above shorter ones")
    func specificity() {
        #expect(HostPattern("www.example.com").specificity > HostPattern("*.example.com").specificity)
        #expect(HostPattern("*.example.com").specificity > HostPattern("*.com").specificity)
        #expect(HostPattern("*.com").specificity > HostPattern("*").specificity)
    }

    @Test("strips the namespace part of a Gateway server host")
    func gatewayServerHost() {
        let (namespace, pattern) = HostPattern.gatewayServerHost("prod/*.example.com")
        #expect(namespace == "prod")
        #expect(pattern.text == "*.example.com")
        #expect(HostPattern.gatewayServerHost("*").namespace == nil)
    }
}
