import SerinCore
import Testing

@Suite("Regex rewrite")
struct RegexRewriteTests {
    @Test("each match becomes the substitution, with \\1… its groups, \\0 the whole match and \\\\ a backslash", arguments: [
        (#"^/service/([^/]+)(/.*)$"#, #"\2/instance/\1"#, "/service/shop/cart", "/cart/instance/shop"),
        ("a", "b", "/a/banana", "/b/bbnbnb"),
        (#"(\d+)"#, #"[\0]"#, "/v1/items/42", "/v[1]/items/[42]"),
        ("/old/", #"/new\\/"#, "/old/x", #"/new\/x"#),
        ("^/nomatch", "/x", "/path", "/path"),
    ])
    func substitutes(pattern: String, rewrite: String, path: String, expected: String) throws {
        #expect(try RegexPattern(pattern).replacingMatches(in: path, with: rewrite) == expected)
    }
}
