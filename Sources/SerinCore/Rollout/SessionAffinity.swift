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

    /// Whether a `Set-Cookie` value sets one of these cookies (any release's): Serin's own, which it replaces.
    public func sets(_ setCookie: String) -> Bool {
        [cookieName, primaryCookieName].compactMap { $0 }.contains { setCookie.hasPrefix("\($0)=") }
    }

    public init(cookieName: String, maxAge: Int = SessionAffinity.defaultMaxAge, primaryCookieName: String? = nil) {
        self.cookieName = cookieName
        self.maxAge = maxAge
        self.primaryCookieName = primaryCookieName
    }
}
