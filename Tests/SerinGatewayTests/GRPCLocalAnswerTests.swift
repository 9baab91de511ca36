import NIOCore
import NIOHPACK
import Testing

@testable import SerinGateway

/// What makes a request a gRPC call, and how the gateway's reason travels in `grpc-message`.
@Suite("gRPC local answers")
struct GRPCLocalAnswerTests {
    @Test(
        "gRPC's content types are gRPC calls, with a codec or parameters and in any case; gRPC-Web and look-alikes are not",
        arguments: [
            ("application/grpc", true), ("application/grpc+proto", true), ("Application/GRPC; charset=utf-8", true),
            ("application/grpc-web", false), ("application/grpc-web+proto", false), ("application/grpcx", false),
            ("application/json", false), ("", false),
        ]
    )
    func contentTypes(contentType: String, isGRPC: Bool) {
        #expect(GRPCLocalAnswer.isGRPC(contentType: contentType) == isGRPC)
    }

    @Test("grpc-message percent-encodes what is not printable ASCII, and % itself, and drops the trailing line break")
    func messageEncoding() {
        #expect(GRPCLocalAnswer.message("no route: host reviews\n") == "no route: host reviews")
        #expect(GRPCLocalAnswer.message("100% café\r\n") == "100%25 caf%C3%A9")
        #expect(GRPCLocalAnswer.message("a\tb") == "a%09b")
    }

    @Test("HTTP statuses map to gRPC's as gRPC's table says: 404 UNIMPLEMENTED, the gateway's 5xx UNAVAILABLE, others UNKNOWN")
    func statusMapping() {
        #expect([400, 401, 403, 404, 429, 502, 503, 504, 500, 421].map(GRPCLocalAnswer.status(forHTTP:)) == [13, 16, 7, 12, 14, 14, 14, 14, 2, 2])
    }

    @Test(
        "an HTTP/2 answer leaves out content-length only when it is a gRPC call's trailers-only answer: gRPC's content type, grpc-status, no body",
        arguments: [
            ("content-type: application/grpc\r\ngrpc-status: 14\r\ncontent-length: 0\r\n", false),
            ("content-type: application/grpc+proto\r\ncontent-length: 0\r\ngrpc-status: 0\r\n", false),
            // A transcoded JSON answer that says its gRPC status beside a body keeps its length.
            ("content-type: application/json\r\ngrpc-status: 0\r\ncontent-length: 2\r\n", true),
            ("content-type: application/grpc\r\ngrpc-status: 0\r\ncontent-length: 5\r\n", true),
            ("content-type: application/grpc\r\ncontent-length: 0\r\n", true),
        ]
    )
    func trailersOnlyLength(fields: String, keepsLength: Bool) throws {
        let head = try HTTP1HeadParser.parseResponse(ByteBuffer(string: "HTTP/1.1 200 OK\r\n\(fields)\r\n"))
        let headers = HTTP2ServerStream.responseHeaders(head)
        #expect(headers.contains(name: "content-length") == keepsLength, "\(headers)")
    }
}
