/// Dispatches whole requests by method and exact path; everything else is 404 or 405.
public struct SimpleRouter: Sendable {
    private var routes: [String: [String: SimpleHTTPServer.Handler]] = [:]
    private var prefixes: [(prefix: String, handler: SimpleHTTPServer.Handler)] = []

    public init() {}

    /// Registers `handler` for `method` (`GET`, `POST`...) on `path`.
    public mutating func add(_ method: String, _ path: String, _ handler: @escaping SimpleHTTPServer.Handler) {
        routes[path, default: [:]][method] = handler
    }

    /// Registers `handler` for every path under `prefix` (any method) that no exact route claims.
    public mutating func addPrefix(_ prefix: String, _ handler: @escaping SimpleHTTPServer.Handler) {
        prefixes.append((prefix, handler))
    }

    public func handle(_ request: SimpleRequest) async -> SimpleResponse {
        guard let byMethod = routes[String(request.path)] else {
            if let match = prefixes.first(where: { request.path.hasPrefix($0.prefix) }) {
                return await match.handler(request)
            }
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
