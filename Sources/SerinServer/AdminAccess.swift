import HTTPTypes
import Hummingbird
import SerinListener

/// Who may use the admin API. With a token configured, every mutating call (and, when asked, every read
/// of data) needs `Authorization: Bearer TOKEN`; a listener reachable from other machines must have one.
public struct AdminAccess: Sendable {
    public var token: String?
    /// Reads of data (`GET /canaries`, `/events`, `/config`, `/metrics`...) need the token too.
    public var readRequiresToken: Bool

    /// No token: fine on a loopback address only.
    public static let open = AdminAccess(token: nil, readRequiresToken: false)

    public init(token: String?, readRequiresToken: Bool) {
        self.token = token
        self.readRequiresToken = readRequiresToken
    }

    /// Probes and the static documents a browser loads before it can present a token: always open.
    static let openPaths: Set<Substring> = ["/healthz", "/readyz", "/", "/openapi.json"]

    /// Why `host` may not serve the admin API as configured, or nil when it may.
    public func problem(servingOn host: String, port: Int) -> String? {
        guard token == nil, !Self.isLoopback(host) else { return nil }
        return "the admin listener on \(host):\(port) is reachable from other machines, so its mutating calls need a "
            + "bearer token: pass --admin-token-file PATH or set SERIN_ADMIN_TOKEN (or bind it to 127.0.0.1 with --admin 127.0.0.1:\(port))"
    }

    /// `127.0.0.0/8` written as an address, `::1` and `localhost`; any other name may resolve elsewhere.
    public static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" || host == "[::1]" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    /// Why `method path` may not go through with `authorization` (the header's value), or nil when it may.
    public func refusal(method: String, path: some StringProtocol, authorization: String?) -> Refusal? {
        guard let token else { return nil }
        let reads = method == "GET" || method == "HEAD"
        if reads && (!readRequiresToken || Self.openPaths.contains(Substring(path))) { return nil }
        guard let authorization else {
            return Refusal(message: "\(method) \(path) needs the admin token: send Authorization: Bearer TOKEN", invalidToken: false)
        }
        let scheme = "bearer "
        guard authorization.count > scheme.count, authorization.prefix(scheme.count).lowercased() == scheme,
            Self.constantTimeEqual(Array(authorization.dropFirst(scheme.count).utf8), Array(token.utf8))
        else {
            return Refusal(message: "the bearer token sent with \(method) \(path) is not the admin token", invalidToken: true)
        }
        return nil
    }

    /// A request the token keeps out: answered 401 with a JSON error and a Bearer challenge.
    public struct Refusal: Sendable, Equatable {
        public var message: String
        /// A token was sent, but not the right one (or not as a bearer token).
        public var invalidToken: Bool

        /// The `WWW-Authenticate` challenge.
        public var challenge: String {
            invalidToken ? "Bearer realm=\"serin\", error=\"invalid_token\"" : "Bearer realm=\"serin\""
        }

        public var response: Response {
            .json(APIError(error: message), status: 401, headers: [.wwwAuthenticate: challenge])
        }
    }

    /// Compares every byte whatever the first difference, so the time taken tells nothing about the token.
    static func constantTimeEqual(_ given: [UInt8], _ expected: [UInt8]) -> Bool {
        var difference = given.count == expected.count ? 0 : 1
        for index in 0..<expected.count {
            difference |= Int((index < given.count ? given[index] : 0) ^ expected[index])
        }
        return difference == 0
    }
}

/// `AdminAccess` in front of every route: a refused request gets its 401 and reaches no handler.
struct AdminAccessMiddleware: RouterMiddleware {
    typealias Context = AdminRoutes.Context
    let access: AdminAccess

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let refusal = access.refusal(method: request.method.rawValue, path: request.uri.path, authorization: request.headers[.authorization]) {
            return refusal.response
        }
        return try await next(request, context)
    }
}
