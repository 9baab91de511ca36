import SerinTesting
import Testing

@Suite("serin route", .timeLimit(.minutes(2)))
struct RouteCommandTests {
    @Test("explains that the seed sends GET / to web-v1-service at its ServiceEntry address")
    func explainsSeedRoute() async throws {
        let result = try await SerinProcess.run(["route", "-f", "examples/seed", "--host", "example.com", "--path", "/"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("route:   default/web-virtualservice http[0]"))
        #expect(result.stdout.contains("match:   [0] uri exact /"))
        #expect(result.stdout.contains("100%  web-v1-service:80 → 127.0.0.1:18081"))
    }

    @Test("shows both weighted destinations of the 90/10 step")
    func explainsWeights() async throws {
        let result = try await SerinProcess.run([
            "route", "-f", "examples/seed/web-serviceentry.yaml", "-f", "examples/seed/web-v1-service.yaml",
            "-f", "examples/seed/web-v2-service.yaml", "-f", "examples/seed/steps/web-gateway-virtualservice-90-10.yaml",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains(" 90%  web-v1-service:80"))
        #expect(result.stdout.contains(" 10%  web-v2-service:80 → 127.0.0.1:18082"))
    }

    @Test("says why nothing matches and exits 1")
    func noRoute() async throws {
        let result = try await SerinProcess.run(["route", "-f", "examples/seed", "--path", "/other"])
        #expect(result.status == 1)
        #expect(result.stdout.contains("404, no route of default/web-virtualservice matches GET /other"))
    }
}
