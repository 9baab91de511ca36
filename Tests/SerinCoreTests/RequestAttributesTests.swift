import SerinCore
import Testing

/// What routing matches against: the path without its query, the host without its port, as Envoy splits them.
@Suite("Request attributes")
struct RequestAttributesTests {
    static func attributes(target: String = "/", authority: String = "example.com") -> RequestAttributes {
        RequestAttributes(method: "GET", target: target, authority: authority, headers: HeaderList())
    }

    @Test("the path is the target up to its first '?', the whole target without one", arguments: [
        ("/", "/"), ("/a/b", "/a/b"), ("/a?x=1", "/a"), ("/a?x=1?y", "/a"), ("?q", ""), ("/é/ü?ß=1", "/é/ü"), ("/日本", "/日本"),
    ])
    func pathBeforeQuery(target: String, path: String) {
        let request = Self.attributes(target: target)
        #expect(request.path == path)
        #expect(request.target == target)
    }

    @Test("the host leaves out the port; an IPv6 literal keeps its brackets", arguments: [
        ("example.com", "example.com", nil), ("example.com:8080", "example.com", 8080), ("127.0.0.1:80", "127.0.0.1", 80),
        ("[::1]", "[::1]", nil), ("[::1]:9080", "[::1]", 9080), ("[fe80::1", "[fe80:", 1), ("", "", nil),
        ("reviews:", "reviews", nil), ("bücher.example:443", "bücher.example", 443),
    ] as [(String, String, Int?)])
    func hostWithoutPort(authority: String, host: String, port: Int?) {
        let request = Self.attributes(authority: authority)
        #expect(request.host == host)
        #expect(request.port == port)
    }
}
