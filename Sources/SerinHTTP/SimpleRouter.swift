/// Dispatches whole requests by method and exact path; everything else is 404 or 405.
public struct SimpleRouter: Sendable {
    private var routes: [String: [String: SimpleHTTPServer.Handler]] = [:]

    public init() {}

    /// Registers `handler` for `method` (`GET`, `POST`...) on `path`.
    public mutating func add(_ method: String, _ path: String, _ handler: @escaping SimpleHTTPServer.Handler) {
        routes[path, default: [:]][method] = handler
    }

    public func handle(_ request: SimpleRequest) async -> SimpleResponse {
        guard let byMethod = routes[String(request.path)] else {
            return .text("not found: \(request.path)\n", status: 404)
        }
        guard let handler = byMethod[request.method] else {
            let allowed = byMethod.keys.sorted().joined(separator: ", ")
            return .text("method \(request.method) not allowed on \(request.path); use \(allowed)\n", status: 405, headers: [("allow", allowed)])
        }
        return await handler(request)
    }

    public var paths: [String] { routes.keys.sorted() }
}
