@testable import SerinServer
@testable import SerinEmbedded
import Testing

/// The admin API's bearer token: who gets through, what a refusal says, and where a listener may run without one.
@Suite("Admin access")
struct AdminAccessTests {
    static let guarded = AdminAccess(token: "s3cret-token", readRequiresToken: false)

    @Test("without a token every call goes through")
    func openAccess() {
        #expect(AdminAccess.open.refusal(method: "POST", path: "/canaries/web/abort", authorization: nil) == nil)
    }

    @Test("with a token a POST without Authorization is refused, saying what to send, with a Bearer challenge")
    func missingToken() throws {
        let refusal = try #require(Self.guarded.refusal(method: "POST", path: "/canaries/web/abort", authorization: nil))
        #expect(!refusal.invalidToken)
        #expect(refusal.challenge == "Bearer realm=\"serin\"")
        #expect(refusal.message.contains("POST /canaries/web/abort needs the admin token"), "\(refusal.message)")
    }

    @Test("a wrong or malformed token is refused as invalid", arguments: [
        "Bearer s3cret-tokeN", "Bearer s3cret-token-and-more", "Bearer s3cret", "Basic s3cret-token", "Bearer ", "s3cret-token",
    ])
    func wrongToken(authorization: String) throws {
        let refusal = try #require(Self.guarded.refusal(method: "POST", path: "/apply", authorization: authorization))
        #expect(refusal.invalidToken)
        #expect(refusal.challenge.contains("invalid_token"))
    }

    @Test("the right token lets a mutating call through, whatever the case of the scheme", arguments: ["Bearer s3cret-token", "bearer s3cret-token"])
    func rightToken(authorization: String) {
        #expect(Self.guarded.refusal(method: "POST", path: "/canaries/web/promote", authorization: authorization) == nil)
    }

    @Test("reads stay open unless reads require the token; probes, the page and the API document stay open always")
    func reads() {
        #expect(Self.guarded.refusal(method: "GET", path: "/canaries", authorization: nil) == nil)
        let strict = AdminAccess(token: "s3cret-token", readRequiresToken: true)
        #expect(strict.refusal(method: "GET", path: "/canaries", authorization: nil) != nil)
        #expect(strict.refusal(method: "GET", path: "/events", authorization: nil) != nil)
        #expect(strict.refusal(method: "GET", path: "/canaries", authorization: "Bearer s3cret-token") == nil)
        for path in ["/healthz", "/readyz", "/", "/openapi.json"] {
            #expect(strict.refusal(method: "GET", path: path, authorization: nil) == nil, "\(path)")
        }
    }

    @Test("a listener beyond loopback without a token is refused, naming both ways to give one", arguments: ["0.0.0.0", "192.168.1.10", "::", "127.example.com", "127.0.0.256"])
    func nonLoopbackNeedsToken(host: String) throws {
        let problem = try #require(AdminAccess.open.problem(servingOn: host, port: 9900))
        #expect(problem.contains("--admin-token-file PATH"))
        #expect(problem.contains("SERIN_ADMIN_TOKEN"))
        #expect(problem.contains("\(host):9900"))
        #expect(Self.guarded.problem(servingOn: host, port: 9900) == nil)
    }

    @Test("loopback listeners need no token", arguments: ["127.0.0.1", "127.0.0.2", "localhost", "::1"])
    func loopbackIsFine(host: String) {
        #expect(AdminAccess.open.problem(servingOn: host, port: 9900) == nil)
    }
}
