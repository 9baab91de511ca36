/// Istio's `corsPolicy` on an HTTP route: which browser origins may call the route's service from another site, and
/// what the gateway tells them. Applied as Envoy's CORS filter applies what Istio makes of it: a preflight from an
/// allowed origin is answered by the gateway itself, and every answer to an allowed origin's request carries the
/// allow fields; a request from any other origin passes untouched.
public struct CorsPolicy: Hashable, Sendable, Codable {
    /// Istio's `unmatchedPreflights`: what becomes of a preflight from an origin the policy does not allow.
    public enum UnmatchedPreflights: String, Hashable, Sendable, Codable {
        /// Routed to the service like any request (Istio's default).
        case forward = "FORWARD"
        /// Answered by the gateway without `access-control-allow-origin`, so the browser refuses the call.
        case ignore = "IGNORE"
    }

    /// `allowOrigins` (or the deprecated `allowOrigin`, as exact matches). A match of the literal `*` allows every origin.
    public var allowOrigins: [StringMatch]
    public var allowMethods: [String]
    public var allowHeaders: [String]
    public var exposeHeaders: [String]
    /// How long a browser may keep a preflight's answer, in whole seconds.
    public var maxAge: Duration?
    public var allowCredentials: Bool?
    public var unmatchedPreflights: UnmatchedPreflights

    public init(
        allowOrigins: [StringMatch] = [], allowMethods: [String] = [], allowHeaders: [String] = [], exposeHeaders: [String] = [],
        maxAge: Duration? = nil, allowCredentials: Bool? = nil, unmatchedPreflights: UnmatchedPreflights = .forward
    ) {
        self.allowOrigins = allowOrigins
        self.allowMethods = allowMethods
        self.allowHeaders = allowHeaders
        self.exposeHeaders = exposeHeaders
        self.maxAge = maxAge
        self.allowCredentials = allowCredentials
        self.unmatchedPreflights = unmatchedPreflights
    }

    /// A response field the policy sets: it replaces any the service sent of the same name, as Envoy's filter does.
    public struct Field: Hashable, Sendable {
        public let name: String
        public let value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// What the policy makes of one request.
    public enum Answer: Hashable, Sendable {
        /// Not a cross-origin request the policy allows, nor a preflight it answers: routed, its answer untouched.
        case pass
        /// A preflight the gateway answers itself: `200` with these fields and no body.
        case preflight([Field])
        /// Routed as usual; whatever answers it (the service, or the gateway's own answer) carries these fields.
        case allow([Field])
    }

    /// The answer to a request with `method` and the `origin`, `access-control-request-method` and
    /// `access-control-request-headers` it carries (nil where it has none). A preflight is an `OPTIONS` with an origin
    /// and a requested method.
    public func answer(method: some StringProtocol, origin: String?, requestMethod: String?, requestHeaders: String?) -> Answer {
        guard let origin, !origin.isEmpty else { return .pass }
        let allowed = allowOrigins.contains { $0.matches("*") || $0.matches(origin) }
        let isPreflight = method == "OPTIONS" && !(requestMethod ?? "").isEmpty
        guard isPreflight else {
            guard allowed else { return .pass }
            var fields = [Field(name: "access-control-allow-origin", value: origin)]
            if allowCredentials == true { fields.append(Field(name: "access-control-allow-credentials", value: "true")) }
            if !exposeHeaders.isEmpty {
                fields.append(Field(name: "access-control-expose-headers", value: exposeHeaders.joined(separator: ",")))
            }
            return .allow(fields)
        }
        if !allowed && unmatchedPreflights == .forward { return .pass }
        var fields: [Field] = []
        if allowed { fields.append(Field(name: "access-control-allow-origin", value: origin)) }
        if allowCredentials == true { fields.append(Field(name: "access-control-allow-credentials", value: "true")) }
        // `*` alone stands for whatever the preflight asks for.
        if !allowMethods.isEmpty {
            let methods = allowMethods == ["*"] ? requestMethod ?? "" : allowMethods.joined(separator: ",")
            fields.append(Field(name: "access-control-allow-methods", value: methods))
        }
        if !allowHeaders.isEmpty {
            let headers = allowHeaders == ["*"] ? requestHeaders ?? "" : allowHeaders.joined(separator: ",")
            if !headers.isEmpty { fields.append(Field(name: "access-control-allow-headers", value: headers)) }
        }
        if let maxAge { fields.append(Field(name: "access-control-max-age", value: String(maxAge.components.seconds))) }
        return .preflight(fields)
    }
}
