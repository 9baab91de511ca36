@testable import SerinServer
@testable import SerinEmbedded
import SerinHTTP
import Testing

/// The admin API's bearer token: who gets through, what a refusal says, and where a listener may run without one.
@Suite("Admin access")
struct AdminAccessTests {
    static let guarded = AdminAccess(token: "s3cret-token", readRequiresToken: false)

    static func request(_ method: String, _ path: String, authorization: String? = nil) -> SimpleRequest {
        SimpleRequest(method: method, uri: path, headers: authorization.map { [("Authorization", $0)] } ?? [])
    }

    @Test("without a token every call goes through")
    func openAccess() {
        #expect(AdminAccess.open.refusal(for: Self.request("POST", "/canaries/web/abort")) == nil)
    }

    @Test("with a token a POST without Authorization gets 401, a JSON error and WWW-Authenticate: Bearer")
    func missingToken() throws {
        let refusal = try #require(Self.guarded.refusal(for: Self.request("POST", "/canaries/web/abort")))
        #expect(refusal.status == 401)
        #expect(refusal.header("content-type") == "application/json")
        #expect(refusal.header("www-authenticate")?.hasPrefix("Bearer") == true)
        #expect(refusal.bodyText.contains("POST /canaries/web/abort needs the admin token"), "\(refusal.bodyText)")
    }

    @Test("a wrong or malformed token is refused as invalid", arguments: [
        "Bearer s3cret-tokeN", "Bearer s3cret-token-and-more", "Bearer s3cret", "Basic s3cret-token", "Bearer ", "s3cret-token",
    ])
    func wrongToken(authorization: String) throws {
        let refusal = try #require(Self.guarded.refusal(for: Self.request("POST", "/apply", authorization: authorization)))
        #expect(refusal.status == 401)
        #expect(refusal.header("www-authenticate")?.contains("invalid_token") == true)
    }

    @Test("the right token lets a mutating call through, whatever the case of the scheme", arguments: ["Bearer s3cret-token", "bearer s3cret-token"])
    func rightToken(authorization: String) {
        #expect(Self.guarded.refusal(for: Self.request("POST", "/canaries/web/promote", authorization: authorization)) == nil)
    }

    @Test("reads stay open unless reads require the token; probes, the page and the API document stay open always")
    func reads() {
        #expect(Self.guarded.refusal(for: Self.request("GET", "/canaries")) == nil)
        let strict = AdminAccess(token: "s3cret-token", readRequiresToken: true)
        #expect(strict.refusal(for: Self.request("GET", "/canaries"))?.status == 401)
        #expect(strict.refusal(for: Self.request("GET", "/events"))?.status == 401)
        #expect(strict.refusal(for: Self.request("GET", "/canaries", authorization: "Bearer s3cret-token")) == nil)
        for path in ["/healthz", "/readyz", "/", "/openapi.json"] {
            #expect(strict.refusal(for: Self.request("GET", path)) == nil, "\(path)")
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
