import NIOHTTP1

/// A whole HTTP request with its body read: what admin endpoints, the demo app and tests handle.
public struct SimpleRequest: Sendable {
    public var method: String
    /// The request target: path and optional query.
    public var uri: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(method: String, uri: String, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.method = method
        self.uri = uri
        self.headers = headers
        self.body = body
    }

    public var path: Substring { uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0] }

    /// The first value of a query parameter.
    public func query(_ name: String) -> String? {
        guard let mark = uri.firstIndex(of: "?") else { return nil }
        for pair in uri[uri.index(after: mark)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if parts[0] == name { return parts.count > 1 ? String(parts[1]) : "" }
        }
        return nil
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// A whole HTTP response, or (on a server) the head of one whose body is written over time.
public struct SimpleResponse: Sendable {
    /// Writes a streamed body until it returns; the server then ends the response and closes the connection.
    public typealias BodyStream = @Sendable (ResponseBodyWriter) async -> Void

    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Set for a streamed body (server-sent events): the head goes out without a length, `body` is ignored.
    public var stream: BodyStream?

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A response whose body `produce` writes piece by piece, for as long as it runs.
    public static func streaming(
        status: Int = 200, headers: [(name: String, value: String)], _ produce: @escaping BodyStream
    ) -> SimpleResponse {
        var response = SimpleResponse(status: status, headers: headers)
        response.stream = produce
        return response
    }

    /// A plain-text response.
    public static func text(_ text: String, status: Int = 200, headers: [(name: String, value: String)] = []) -> SimpleResponse {
        SimpleResponse(
            status: status, headers: [("content-type", "text/plain; charset=utf-8")] + headers, body: Array(text.utf8)
        )
    }

    /// A response with a body of `contentType`.
    public static func content(_ body: String, contentType: String, status: Int = 200) -> SimpleResponse {
        SimpleResponse(status: status, headers: [("content-type", contentType)], body: Array(body.utf8))
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// The same response with one more header.
    public func adding(header name: String, _ value: String) -> SimpleResponse {
        var response = self
        response.headers.append((name, value))
        return response
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

extension HTTPHeaders {
    init(_ pairs: [(name: String, value: String)]) {
        self.init()
        for pair in pairs { add(name: pair.name, value: pair.value) }
    }
}
