import NIOCore
import Testing

@testable import SerinGateway

/// The chunked-body reader the gateway forwards bodies with: wherever the bytes are split between reads,
/// it finds the same end and the same data; broken framing is an error, never a hang.
@Suite("Chunked body framing")
struct ChunkedScannerTests {
    /// Feeds `wire` split at `split`; returns the bytes consumed, whether the body ended, and its data.
    static func scan(_ wire: [UInt8], splitAt split: Int) throws -> (consumed: Int, ended: Bool, data: [UInt8]) {
        var scanner = ChunkedScanner()
        var consumed = 0
        var data: [UInt8] = []
        for part in [wire[..<split], wire[split...]] where !scanner.ended {
            let piece = Array(part)
            consumed += try piece.withUnsafeBytes { bytes throws(MalformedMessage) in
                try scanner.scan(bytes) { range in data += piece[range] }
            }
        }
        return (consumed, scanner.ended, data)
    }

    @Test(
        "finds the end of the body and its data at every split point",
        arguments: [
            ("5\r\nhello\r\n0\r\n\r\n", "hello"),
            ("5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world"),
            ("A\r\n0123456789\r\n0\r\nx-trailer: yes\r\n\r\n", "0123456789"),
            ("00000000000000000003\r\nabc\r\n0\r\n\r\n", "abc"),
            ("0\r\n\r\n", ""),
        ]
    )
    func everySplit(body: String, payload: String) throws {
        let wire = Array(body.utf8)
        let after = Array("GET /next HTTP/1.1\r\n\r\n".utf8)
        for split in 0...wire.count {
            let result = try Self.scan(wire + after, splitAt: split)
            #expect(result.ended, "split at \(split)")
            #expect(result.consumed == wire.count, "split at \(split): the next request's bytes are not the body's")
            #expect(result.data == Array(payload.utf8), "split at \(split)")
        }
    }

    @Test(
        "dropping trailers, the body goes on with its chunks as they came and the empty line alone after the last, wherever the bytes are split between reads (every way into three reads)",
        arguments: [
            ("5\r\nhello\r\n0\r\nx-forwarded-client-cert: Hash=evil\r\ncontent-length: 99\r\n\r\n", "5\r\nhello\r\n0\r\n\r\n"),
            ("5;ext=1\r\nhello\r\n0;last\r\na: 1\r\n\r\n", "5;ext=1\r\nhello\r\n0;last\r\n\r\n"),
            ("3\r\nabc\r\n0\r\n\r\n", "3\r\nabc\r\n0\r\n\r\n"),
            ("0\r\nx: y\r\n\r\n", "0\r\n\r\n"),
        ]
    )
    func trailersDropped(body: String, forwarded: String) throws {
        let wire = Array(body.utf8)
        let next = Array("GET /next HTTP/1.1\r\n\r\n".utf8)
        for first in 0...wire.count {
            for second in first...wire.count {
                var reader = BodyReader(.chunked)!
                var sent: [UInt8] = []
                var ended = false
                var rest: [UInt8] = []
                for part in [wire[..<first], wire[first..<second], wire[second...] + next] {
                    var buffer = ByteBuffer(bytes: Array(part))
                    if !ended {
                        let piece = try reader.read(from: &buffer, droppingTrailers: true)
                        sent += Array(buffer: piece.bytes)
                        ended = piece.ended
                    }
                    rest += Array(buffer: buffer)
                }
                #expect(ended && String(decoding: sent, as: UTF8.self) == forwarded, "reads split at \(first), \(second): \(String(decoding: sent, as: UTF8.self))")
                #expect(rest == next, "reads split at \(first), \(second): the next request's bytes stay")
            }
        }
    }

    @Test("an unfinished body is not ended", arguments: ["5\r\nhel", "5\r\nhello\r\n", "0\r\n", "0\r\nx-trailer: 1\r\n"])
    func unfinished(body: String) throws {
        let result = try Self.scan(Array(body.utf8), splitAt: 0)
        #expect(!result.ended)
        #expect(result.consumed == body.utf8.count)
    }

    @Test(
        "broken framing is an error: a bad size, data longer than its size, a bare LF, a trailer that is not NAME: VALUE",
        arguments: [
            "zz\r\n", "\r\n", "5\r\nhelloX\r\n0\r\n\r\n", "5\rX", "1234567890abcdef0\r\n", "-1\r\n", "3\nabc\r\n0\r\n\r\n",
            "3\r\nabc\n0\r\n\r\n", "3;a\nb\r\n", "0\r\nbad trailer\r\n\r\n", "0\r\nx-t : 1\r\n\r\n", "0\r\nx-t: 1\r\n 2\r\n\r\n",
            "0\r\nx-t: 1\u{0}2\r\n\r\n", "0\n\n",
        ]
    )
    func broken(body: String) {
        #expect(throws: MalformedMessage.self) { try Self.scan(Array(body.utf8), splitAt: 0) }
    }
}
