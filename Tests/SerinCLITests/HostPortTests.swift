import Testing

@testable import SerinCLI

/// `--admin` and `--mesh` values: what they bind, and what they print back.
@Suite("HOST:PORT options")
struct HostPortTests {
    @Test("an IPv6 address is written in brackets and bound without them; an empty host is 127.0.0.1")
    func parsing() throws {
        let six = try HostPort.parse("[::1]:9900")
        #expect(six.host == "::1" && six.port == 9900)
        #expect(six.description == "[::1]:9900" && six.url == "http://[::1]:9900")
        let bare = try HostPort.parse(":15001")
        #expect(bare.host == "127.0.0.1" && bare.port == 15001 && bare.url == "http://127.0.0.1:15001")
        #expect(throws: (any Error).self) { try HostPort.parse("15001") }
    }
}
