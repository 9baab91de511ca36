import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SerinListener
import Synchronization

/// The admin listener's one router: Hummingbird's, behind the admin token, with the answers Hummingbird's
/// router does not give and clients rely on: 405 with `Allow` for a path served with other methods, and
/// `{"error": "not found: PATH"}` for the rest (or the answer of a prefix's own fallback, such as `/canaries/`'s).
///
/// Both modes build one, add their routes (`AdminSurface`, the embedded gateway's), then run it: as a
/// ServiceLifecycle service (`application`) or in the background (`start`).
public final class AdminRoutes {
    public typealias Context = BasicRequestContext
    public typealias Handler = @Sendable (Request, Context) async throws -> Response

    public let router: Router<Context>
    private let unrouted: UnroutedRequests
    /// The paths served so far, as an OpenAPI document writes them (`/canaries/{name}`).
    public private(set) var paths: Set<String> = []

    /// A router whose every request first passes `access`.
    public init(access: AdminAccess) {
        router = Router(context: Context.self)
        unrouted = UnroutedRequests()
        // Middleware first: Hummingbird applies it to the routes added after it.
        router.add(middleware: unrouted)
        router.add(middleware: AdminAccessMiddleware(access: access))
    }

    /// Serves `handler` for `method` on `path` (`/canaries/:name` takes a parameter).
    public func add(_ method: HTTPRequest.Method, _ path: String, _ handler: @escaping Handler) {
        router.on(RouterPath(path), method: method, use: handler)
        if !path.contains(":") { unrouted.allow(method.rawValue, on: path) }
        paths.insert(path.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment.first == ":" ? "{\(segment.dropFirst())}" : segment
        }.joined(separator: "/"))
    }

    /// Answers the requests under `prefix` that no route takes (a wrong method, an unknown resource).
    public func fallback(under prefix: String, _ answer: @escaping @Sendable (Request) async -> Response) {
        unrouted.fallback(under: prefix, answer)
    }

    /// The listener as a service, for a ServiceGroup; `onServerRunning` learns the bound address.
    public func application(
        host: String, port: Int, group: any EventLoopGroup, logger: Logger = HTTPListener.quietLogger,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: router, server: HTTPListener.server, configuration: ApplicationConfiguration(address: .hostname(host, port: port)),
            onServerRunning: onServerRunning, eventLoopGroupProvider: .shared(group), logger: logger
        )
    }

    /// Binds `host:port` and serves the routes in the background until the listener is closed.
    public func start(host: String, port: Int, group: any EventLoopGroup) async throws -> HTTPListener {
        try await HTTPListener.start(router.buildResponder(), host: host, port: port, group: group)
    }
}

/// What the router could not route: 405 with `Allow` where the path has other methods, a prefix's
/// fallback, or 404 `not found: PATH`, each as the API's JSON error.
final class UnroutedRequests: RouterMiddleware, Sendable {
    typealias Context = AdminRoutes.Context

    private struct Table {
        var methods: [String: Set<String>] = [:]
        var fallbacks: [(prefix: String, answer: @Sendable (Request) async -> Response)] = []
    }

    private let table = Mutex(Table())

    func allow(_ method: String, on path: String) {
        table.withLock { _ = $0.methods[path, default: []].insert(method) }
    }

    func fallback(under prefix: String, _ answer: @escaping @Sendable (Request) async -> Response) {
        table.withLock { $0.fallbacks.append((prefix, answer)) }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            return await answer(request)
        }
    }

    func answer(_ request: Request) async -> Response {
        let path = request.uri.path
        let (allowed, fallback) = table.withLock { table in
            (table.methods[path], table.fallbacks.first { path.hasPrefix($0.prefix) }?.answer)
        }
        if let allowed {
            let allow = allowed.sorted().joined(separator: ", ")
            return .json(APIError(error: "method \(request.method) not allowed on \(path); use \(allow)"), status: 405, headers: [.allow: allow])
        }
        if let fallback { return await fallback(request) }
        return .json(APIError(error: "not found: \(path)"), status: 404)
    }
}
