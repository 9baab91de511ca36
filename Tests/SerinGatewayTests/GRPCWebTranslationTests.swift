import Foundation
import NIOCore
import NIOHPACK
import Testing

@testable import SerinGateway

/// The pieces of gRPC-Web's translation that a live call exercises only in one shape: base64 split anywhere, the
/// trailers' frame byte for byte, and a non-gRPC answer turned into a status.
@Suite("gRPC-Web translation")
struct GRPCWebTranslationTests {
    let allocator = ByteBufferAllocator()

    @Test(
        "the four gRPC-Web content types are translated, in any case; gRPC itself and anything else are not",
        arguments: [
            ("application/grpc-web", true), ("application/grpc-web+proto", true), ("Application/GRPC-Web-Text", true),
            ("application/grpc-web-text+proto", true), ("application/grpc", false), ("application/grpc-web+json", false),
            ("text/plain", false),
        ]
    )
    func contentTypes(contentType: String, translated: Bool) {
        #expect((GRPCWebTranslation(contentType: contentType, accept: nil) != nil) == translated)
    }

    @Test("a text body split inside base64 groups, even one byte at a time, decodes to the same bytes as sent whole")
    func textBodyInAnyPieces() throws {
        let message = Array("a message long enough to span several groups".utf8)
        let encoded = Array(Data([0, 0, 0, 0, UInt8(message.count)] + message).base64EncodedString().utf8)
        for size in [1, 2, 3, 5, 7, encoded.count] {
            var translation = try #require(GRPCWebTranslation(contentType: "application/grpc-web-text", accept: nil))
            var decoded: [UInt8] = []
            var start = 0
            while start < encoded.count {
                let end = min(start + size, encoded.count)
                let piece = try translation.requestBody(allocator.buffer(bytes: encoded[start..<end]), end: end == encoded.count, allocator: allocator)
                decoded += piece.readableBytesView
                start = end
            }
            #expect(decoded == [0, 0, 0, 0, UInt8(message.count)] + message, "pieces of \(size)")
        }
    }

    @Test("padding between groups, as a stream of padded pieces is written, decodes; a stray character or a body ending mid-group is an error")
    func textBodyErrors() throws {
        var translation = try #require(GRPCWebTranslation(contentType: "application/grpc-web-text", accept: nil))
        let joined = try translation.requestBody(allocator.buffer(string: "YQ==Yg=="), end: true, allocator: allocator)
        #expect(Array(joined.readableBytesView) == Array("ab".utf8))
        for bad in ["YQ=a", "Y*==", "YWJjZA"] {
            var fresh = try #require(GRPCWebTranslation(contentType: "application/grpc-web-text", accept: nil))
            #expect(throws: MalformedGRPCWebBody.self, "\(bad)") {
                _ = try fresh.requestBody(allocator.buffer(string: bad), end: true, allocator: allocator)
            }
        }
    }

    @Test("the request goes as gRPC: application/grpc, te: trailers, no length, identity unless the client accepts other encodings")
    func requestHeaders() throws {
        let translation = try #require(GRPCWebTranslation(contentType: "application/grpc-web", accept: nil))
        let headers = translation.requestHeaders(["content-type": "application/grpc-web", "content-length": "12", "x-grpc-web": "1"])
        #expect(headers.first(name: "content-type") == "application/grpc")
        #expect(headers.first(name: "te") == "trailers")
        #expect(headers.first(name: "content-length") == nil)
        #expect(headers.first(name: "grpc-accept-encoding") == "identity")
        let gzip = translation.requestHeaders(["content-type": "application/grpc-web", "grpc-accept-encoding": "gzip"])
        #expect(gzip[canonicalForm: "grpc-accept-encoding"] == ["gzip"])
    }

    @Test("the trailers become the body's last frame: 0x80, their length, then name:value CR LF each; in base64 for a text answer")
    func trailerFrame() throws {
        let trailers: HPACKHeaders = ["grpc-status": "0", "grpc-message": "ok"]
        let binary = try #require(GRPCWebTranslation(contentType: "application/grpc-web", accept: nil))
        let block = Array("grpc-status:0\r\ngrpc-message:ok\r\n".utf8)
        let expected: [UInt8] = [0x80, 0, 0, 0, UInt8(block.count)] + block
        #expect(Array(binary.trailerFrame(trailers, allocator: allocator).readableBytesView) == expected)
        let text = try #require(GRPCWebTranslation(contentType: "application/grpc-web", accept: "application/grpc-web-text"))
        let encoded = text.trailerFrame(trailers, allocator: allocator)
        #expect(String(buffer: encoded) == Data(expected).base64EncodedString())
    }

    @Test("a non-gRPC answer is held: its status becomes grpc-status by gRPC's table, its body (at most 1 KiB) grpc-message, and it has no body")
    func nonGRPCAnswer() throws {
        var translation = try #require(GRPCWebTranslation(contentType: "application/grpc-web", accept: nil))
        let head = translation.responseHeaders(status: 503, ["content-type": "text/html", "content-length": "2000"], ended: false)
        #expect(head == nil)
        #expect(translation.holdsHead)
        translation.hold(allocator.buffer(string: "upstream is down\n" + String(repeating: "x", count: 1990)))
        let held = translation.heldAnswer()
        let answer = try #require(held)
        #expect(answer.status == 503)
        #expect(answer.headers.first(name: "grpc-status") == "14")
        #expect(answer.headers.first(name: "content-type") == "application/grpc-web+proto")
        #expect(answer.headers.first(name: "content-length") == nil)
        let message = try #require(answer.headers.first(name: "grpc-message"))
        #expect(message.hasPrefix("upstream is down%0A") && message.count == 1024 + 2, "\(message.prefix(40))…")
        #expect(!translation.holdsHead)
        // A gRPC answer passes at once, its content type the client's kind.
        var grpc = try #require(GRPCWebTranslation(contentType: "application/grpc-web", accept: "application/grpc-web-text"))
        let passed = grpc.responseHeaders(status: 200, ["content-type": "application/grpc", "grpc-encoding": "identity"], ended: false)
        #expect(passed?.first(name: "content-type") == "application/grpc-web-text+proto")
        #expect(!grpc.holdsHead)
    }
}
