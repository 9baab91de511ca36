import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1

/// Serin's answers as its users and tests read them: plain text, pretty JSON with sorted keys and a final
/// newline, `{"error": "..."}` bodies, each with its content type and a status given by its code.
extension Response {
    /// A plain-text response.
    public static func text(_ text: String, status: Int = 200, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "text/plain; charset=utf-8"
        return bytes(Array(text.utf8), status: status, headers: fields)
    }

    /// A response with a body of `contentType`.
    public static func content(_ body: String, contentType: String, status: Int = 200) -> Response {
        bytes(Array(body.utf8), status: status, headers: [.contentType: contentType])
    }

    /// A `200` whose body is written a piece at a time as `makePieces` yields them (chunked): a large text never
    /// sits whole in memory.
    public static func streamed(contentType: String, _ makePieces: @escaping @Sendable () -> AnyIterator<String>) -> Response {
        Response(
            status: .serin(200), headers: [.contentType: contentType],
            body: ResponseBody { writer in
                let pieces = makePieces()
                while let piece = pieces.next() {
                    try await writer.write(ByteBuffer(string: piece))
                }
                try await writer.finish(nil)
            })
    }

    /// A JSON response (sorted keys, pretty-printed: these are read by people as often as by programs).
    public static func json<T: Encodable>(_ value: T, status: Int = 200, headers: HTTPFields = [:]) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            var data = try encoder.encode(value)
            data.append(0x0A)
            var fields = headers
            fields[.contentType] = "application/json"
            return bytes(Array(data), status: status, headers: fields)
        } catch {
            return .text("could not encode response: \(error)\n", status: 500)
        }
    }

    static func bytes(_ body: [UInt8], status: Int, headers: HTTPFields) -> Response {
        Response(status: .serin(status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}

extension HTTPResponse.Status {
    /// The status `code` with its usual reason phrase (`404 Not Found`), which `init(code:)` leaves empty.
    public static func serin(_ code: Int) -> HTTPResponse.Status {
        HTTPResponse.Status(code: code, reasonPhrase: HTTPResponseStatus(statusCode: code).reasonPhrase)
    }
}
