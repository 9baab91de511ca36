/// `analysis.sessionAffinity` (Flagger's field names): the gateway sets a cookie on the responses a client gets
/// from the canary, and a route ahead of the weighted one sends every request carrying it to the canary, so a
/// client the weights sent to the canary stays there. With `primaryCookieName` the stable's responses set a
/// cookie of their own that keeps their clients on stable, so neither cohort flips as the weights change.
public struct SessionAffinity: Hashable, Sendable, Codable {
    /// Flagger's default `maxAge`: one day.
    public static let defaultMaxAge = 86_400

    public var cookieName: String
    /// How long a client keeps its cookie, in seconds (`Max-Age`).
    public var maxAge: Int
    /// The cookie that pins a client to the stable; nil: stable clients are drawn again on each request.
    public var primaryCookieName: String?
    /// The cookies' attributes besides `Max-Age` (Flagger's `domain`, `httpOnly`, `partitioned`, `path`, `sameSite`,
    /// `secure`).
    public var attributes: CookieAttributes

    /// Whether a `Set-Cookie` value sets one of these cookies (any release's): Serin's own, which it replaces.
    public func sets(_ setCookie: String) -> Bool {
        [cookieName, primaryCookieName].compactMap { $0 }.contains { setCookie.hasPrefix("\($0)=") }
    }

    public init(
        cookieName: String, maxAge: Int = SessionAffinity.defaultMaxAge, primaryCookieName: String? = nil,
        attributes: CookieAttributes = CookieAttributes()
    ) {
        self.cookieName = cookieName
        self.maxAge = maxAge
        self.primaryCookieName = primaryCookieName
        self.attributes = attributes
    }

    private enum CodingKeys: String, CodingKey {
        case cookieName, maxAge, primaryCookieName, attributes
    }

    /// Reads state files written before `attributes` existed as none.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            cookieName: try container.decode(String.self, forKey: .cookieName),
            maxAge: try container.decode(Int.self, forKey: .maxAge),
            primaryCookieName: try container.decodeIfPresent(String.self, forKey: .primaryCookieName),
            attributes: try container.decodeIfPresent(CookieAttributes.self, forKey: .attributes) ?? CookieAttributes()
        )
    }
}

/// The attributes of a sticky canary's cookies, written into their `Set-Cookie` in Flagger's order.
public struct CookieAttributes: Hashable, Sendable, Codable {
    /// `SameSite`'s values, as Flagger's CRD allows them.
    public enum SameSite: String, Hashable, Sendable, Codable, CaseIterable {
        case strict = "Strict", lax = "Lax", none = "None"
    }

    /// The host the cookie is sent to (`Domain`); nil: the host that set it.
    public var domain: String?
    public var httpOnly: Bool
    public var partitioned: Bool
    /// The path a request must be under to carry the cookie (`Path`); nil: `/`, every path of the host.
    public var path: String?
    public var sameSite: SameSite?
    public var secure: Bool

    public init(
        domain: String? = nil, httpOnly: Bool = false, partitioned: Bool = false, path: String? = nil, sameSite: SameSite? = nil,
        secure: Bool = false
    ) {
        self.domain = domain
        self.httpOnly = httpOnly
        self.partitioned = partitioned
        self.path = path
        self.sameSite = sameSite
        self.secure = secure
    }

    /// `; Domain=…; HttpOnly; Partitioned; Path=…; SameSite=…; Secure`, those set, in Flagger's order; `Path=/`
    /// when no path is written (the cookie pins the client on every path, and is expired on the path it was set on).
    public var text: String {
        var text = ""
        if let domain { text += "; Domain=\(domain)" }
        if httpOnly { text += "; HttpOnly" }
        if partitioned { text += "; Partitioned" }
        text += "; Path=\(path ?? "/")"
        if let sameSite { text += "; SameSite=\(sameSite.rawValue)" }
        if secure { text += "; Secure" }
        return text
    }
}
