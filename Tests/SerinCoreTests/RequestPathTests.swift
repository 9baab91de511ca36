import SerinCore
import Testing

/// Paths as Istio has Envoy normalize them before routing (`normalize_path`, slashes not merged, `%2F` kept).
@Suite("Request path normalization")
struct RequestPathTests {
    @Test("dot segments are resolved, unreserved escapes decoded, backslashes read as slashes and what a path may not hold encoded, so a route keeping /admin away cannot be passed round", arguments: [
        ("/public/../admin", "/admin"), ("/./admin", "/admin"), ("/%61dmin", "/admin"), ("/public/%2e%2e/admin", "/admin"),
        ("/public/%2E%2E/admin", "/admin"), ("/a\\..\\admin", "/admin"), ("/../admin", "/admin"), ("/..", "/"), ("/x/..", "/"),
        ("/a/.", "/a/"), ("/a/b/../c", "/a/c"), ("/a//../b", "/a/b"), ("/api/v1/users/%31/delete", "/api/v1/users/1/delete"),
        ("/%7Euser", "/~user"), ("/x/../echo?a=/../b", "/echo?a=/../b"), ("/a{b}|c", "/a%7Bb%7D%7Cc"), ("/a\"b^`<>", "/a%22b%5E%60%3C%3E"),
        ("/caf\u{E9}", "/caf%C3%A9"),
    ])
    func normalizes(path: String, expected: String) {
        #expect(RequestPath.normalized(path) == expected)
    }

    @Test("what Istio leaves alone is unchanged: merged slashes, an encoded slash or other reserved escape as written, a dot inside a name, the query, a malformed escape", arguments: [
        "/", "/web/index.html", "//admin", "/internal//metrics", "/public/..%2fadmin", "/admin%2Fx", "/a%20b", "/.well-known/acme",
        "/v1.2/x", "/a?x=/../y", "/100%", "/%zz", "/a..b/", "*", "/a%7b",
    ])
    func leavesAlone(path: String) {
        #expect(RequestPath.normalized(path) == nil)
    }
}
