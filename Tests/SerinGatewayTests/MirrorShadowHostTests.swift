@testable import SerinGateway
import Testing

/// The Host a mirrored copy carries, as Envoy writes it.
@Suite("mirror's shadow host")
struct MirrorShadowHostTests {
    @Test("-shadow goes on the host name, before any port, so the copy's Host is still a host and port", arguments: [
        ("web", "web-shadow"),
        ("shop.example.com:8080", "shop.example.com-shadow:8080"),
        ("127.0.0.1:20080", "127.0.0.1-shadow:20080"),
        ("[::1]:80", "[::1]-shadow:80"),
        ("[::1]", "[::1]-shadow"),
    ])
    func shadowHost(host: String, shadow: String) {
        #expect(MirrorExchange.shadowHost(host) == shadow)
    }
}
