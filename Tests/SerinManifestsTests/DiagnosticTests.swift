import SerinManifests
import Testing

@Suite("Diagnostic")
struct DiagnosticTests {
    @Test(
        "prints path:line:column, severity and message",
        arguments: [
            (Severity.error, "a.yaml:31:9: error: weights sum to 110, expected 100"),
            (Severity.warning, "a.yaml:31:9: warning: weights sum to 110, expected 100"),
        ]
    )
    func locatedDescription(severity: Severity, expected: String) {
        let diagnostic = Diagnostic(
            severity: severity, location: SourceLocation(file: "a.yaml", line: 31, column: 9),
            message: "weights sum to 110, expected 100"
        )
        #expect(diagnostic.description == expected)
    }

    @Test("without a location prints only severity and message")
    func unlocatedDescription() {
        #expect(Diagnostic.error("cannot read x.yaml", at: nil).description == "error: cannot read x.yaml")
    }
}
