import HTTPTypes
import Hummingbird
import NIOCore

/// A request with its body read whole, for handlers that look at everything a client sent: the demo app's
/// `/echo`, and test servers that record what reached them.
///
/// The headers are as the client sent them, `host` included (HTTP types keep it as the request's authority).
public struct CollectedRequest: Sendable {
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

    /// Reads `request`'s body, up to `maxBodyBytes` (beyond that it throws).
    public init(collecting request: Request, maxBodyBytes: Int = HTTPListener.maxCollectedBodyBytes) async throws {
        var request = request
        let buffer = try await request.collectBody(upTo: maxBodyBytes)
        var headers: [(name: String, value: String)] = []
        if let authority = request.head.authority { headers.append(("host", authority)) }
        headers += request.headers.map { ($0.name.rawName, $0.value) }
        self.init(method: request.method.rawValue, uri: request.uri.description, headers: headers, body: Array(buffer.readableBytesView))
    }

    public var path: Substring { uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0] }

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

extension HTTPListener {
    /// Bodies a listener `answering` reads whole: far more than any test or demo request.
    public static let maxCollectedBodyBytes = 16 << 20

    /// Serves every method on every path with `answer`, each request read whole first (a larger body than
    /// `maxCollectedBodyBytes` gets 413): for servers with no routes, such as the demo app and test fakes.
    public static func start(
        host: String, port: Int, group: any EventLoopGroup, answering answer: @escaping @Sendable (CollectedRequest) async -> Response
    ) async throws -> HTTPListener {
        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            guard let collected = try? await CollectedRequest(collecting: request, maxBodyBytes: maxCollectedBodyBytes) else {
                return .text("request body larger than \(maxCollectedBodyBytes) bytes\n", status: 413)
            }
            return await answer(collected)
        }
        return try await start(responder, host: host, port: port, group: group)
    }
}
