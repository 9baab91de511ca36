import SerinCore
import Testing

/// One case per Istio match type: a match, a request, and whether the match holds.
@Suite("RequestMatch")
struct RequestMatchTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let match: RequestMatch
        let method: String
        let target: String
        let authority: String
        let headers: [(String, String)]
        let expected: Bool
        var testDescription: String { name }

        init(
            _ name: String, _ match: RequestMatch, method: String = "GET", target: String = "/",
            authority: String = "example.com", headers: [(String, String)] = [], _ expected: Bool
        ) {
            self.name = name
            self.match = match
            self.method = method
            self.target = target
            self.authority = authority
            self.headers = headers
            self.expected = expected
        }
    }

    static let gateway = ResourceName(name: "web-gateway")

    static let cases: [Case] = [
        Case("uri exact matches the same path", RequestMatch(uri: .exact("/")), target: "/", true),
        Case("uri exact ignores the query string", RequestMatch(uri: .exact("/")), target: "/?a=1", true),
        Case("uri exact rejects a longer path", RequestMatch(uri: .exact("/")), target: "/index.html", false),
        Case("uri prefix matches below the prefix", RequestMatch(uri: .prefix("/api")), target: "/api/v1", true),
        Case("uri prefix rejects other paths", RequestMatch(uri: .prefix("/api")), target: "/ap", false),
        Case("uri regex must match the whole path", RequestMatch(uri: .regex(try! RegexPattern("/v[0-9]+"))), target: "/v12", true),
        Case("uri regex partial match is not enough", RequestMatch(uri: .regex(try! RegexPattern("/v[0-9]+"))), target: "/v12/x", false),
        Case("ignoreUriCase folds case for exact", RequestMatch(uri: .exact("/Home"), ignoreUriCase: true), target: "/hOME", true),
        Case("uri exact is case sensitive by default", RequestMatch(uri: .exact("/Home")), target: "/home", false),
        Case("method exact", RequestMatch(method: .exact("POST")), method: "POST", true),
        Case("method exact rejects another method", RequestMatch(method: .exact("POST")), method: "GET", false),
        Case("scheme exact http", RequestMatch(scheme: .exact("http")), true),
        Case("authority prefix", RequestMatch(authority: .prefix("api.")), authority: "api.example.com", true),
        Case("authority exact rejects another host", RequestMatch(authority: .exact("a.com")), authority: "b.com", false),
        Case("header exact", RequestMatch(headers: ["x-user": .exact("beta")]), headers: [("X-User", "beta")], true),
        Case("header exact rejects another value", RequestMatch(headers: ["x-user": .exact("beta")]), headers: [("x-user", "alpha")], false),
        Case("header absent fails", RequestMatch(headers: ["x-user": .exact("beta")]), false),
        Case("header prefix", RequestMatch(headers: ["user-agent": .prefix("Mozilla")]), headers: [("user-agent", "Mozilla/5.0")], true),
        Case("header regex", RequestMatch(headers: ["cookie": .regex(try! RegexPattern(".*canary=1.*"))]), headers: [("cookie", "a=b; canary=1")], true),
        Case("header presence", RequestMatch(headers: ["x-debug": .present]), headers: [("x-debug", "")], true),
        Case("withoutHeaders holds when the header is absent", RequestMatch(withoutHeaders: ["x-user": .exact("beta")]), true),
        Case("withoutHeaders fails when the header matches", RequestMatch(withoutHeaders: ["x-user": .exact("beta")]), headers: [("x-user", "beta")], false),
        Case("withoutHeaders holds when the value differs", RequestMatch(withoutHeaders: ["x-user": .exact("beta")]), headers: [("x-user", "alpha")], true),
        Case("queryParams exact", RequestMatch(queryParams: ["canary": .exact("true")]), target: "/?a=b&canary=true", true),
        Case("queryParams exact rejects another value", RequestMatch(queryParams: ["canary": .exact("true")]), target: "/?canary=false", false),
        Case("queryParams regex", RequestMatch(queryParams: ["id": .regex(try! RegexPattern("[0-9]+"))]), target: "/?id=42", true),
        Case("conditions in one match are ANDed", RequestMatch(uri: .exact("/"), method: .exact("GET")), method: "POST", false),
        Case("gateways limits the match to those gateways", RequestMatch(gateways: [ResourceName(name: "other")]), false),
        Case("gateways holds for the admitting gateway", RequestMatch(gateways: [gateway]), true),
        Case("port must equal the listener's port", RequestMatch(port: 8443), false),
    ]

    @Test("evaluates one match against one request", arguments: cases)
    func evaluates(_ testCase: Case) {
        let request = RequestAttributes(
            method: testCase.method, target: testCase.target, authority: testCase.authority,
            headers: HeaderList(testCase.headers.map { (name: $0.0, value: $0.1) })
        )
        #expect(testCase.match.matches(request, gateways: [Self.gateway], port: 80) == testCase.expected)
    }
}

@Suite("RegexPattern as Istio's RE2")
struct RegexPatternRE2Tests {
    @Test(
        "what RE2 has not, and istiod refuses, is refused with why: lookaround, atomic groups, possessive quantifiers, backreferences, and more than 1024 characters",
        arguments: [
            ("/(?=api)api.*", "the lookahead (?= is not RE2"), ("/(?!x).*", "the lookahead (?! is not RE2"),
            ("/(?<=a)b", "the lookbehind (?<= is not RE2"), ("/(?<!a)b", "the lookbehind (?<! is not RE2"),
            ("/(?>ab)c", "the atomic group (?> is not RE2"), ("/a++", "a possessive quantifier (++) is not RE2"),
            ("/a{2}+", "a possessive quantifier (}+) is not RE2"), (#"/(a)\1"#, #"the backreference \1 is not RE2"#),
            (#"/(?<n>a)\k<n>"#, #"a named backreference \k<…> is not RE2"#),
            ("/" + String(repeating: "a", count: 1024), "it is 1025 characters long, more than the 1024 Istio allows"),
        ]
    )
    func refused(pattern: String, why: String) {
        #expect(throws: RegexPattern.RE2Problem.self) { try RegexPattern(pattern) }
        do {
            _ = try RegexPattern(pattern)
        } catch {
            #expect("\(error)".hasPrefix(why), "\(error)")
        }
    }

    @Test(
        "RE2's own syntax is taken: named groups, flags, lazy quantifiers, escaped pluses, classes holding what is special outside them",
        arguments: [#"/(?P<version>v[0-9]+)/.*"#, "(?i)/API/.*", "/a+?b*?", #"/\++"#, "/[(?=]+", #"/\p{Greek}+"#, "/a{2,3}b"]
    )
    func taken(pattern: String) throws {
        _ = try RegexPattern(pattern)
    }
}
