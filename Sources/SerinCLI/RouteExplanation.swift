import SerinCore

/// What the gateway does with a request a route took, besides picking a destination, in lines a person reads:
/// `serin route` prints them, so a route that aborts, redirects or answers by itself never reads as "100% v1".
enum RouteExplanation {
    /// The route's answer when it never forwards (a direct response or a redirect), else nil.
    static func localAnswer(_ policy: RoutePolicy) -> String? {
        if let direct = policy.directResponse {
            let body = direct.body.map { " with a \($0.contents.count)-byte body" } ?? ""
            return "answers \(direct.status)\(body) itself; nothing is forwarded"
        }
        if let redirect = policy.redirect {
            var parts: [String] = []
            if let scheme = redirect.scheme { parts.append("scheme \(scheme.rawValue)") }
            if let authority = redirect.authority { parts.append("host \(authority)") }
            if let port = redirect.port { parts.append("port \(port)") }
            if let derive = redirect.derivePort {
                parts.append(derive == .fromRequestPort ? "the request's port" : "the scheme's default port")
            }
            if let uri = redirect.uri { parts.append("path \(uri)") }
            let changes = parts.isEmpty ? "the same URL" : parts.joined(separator: ", ")
            return "redirects with \(redirect.redirectCode) to \(changes); nothing is forwarded"
        }
        if let abort = policy.fault?.abort, abort.percentage.value >= 100 {
            return "every request is answered \(abort.httpStatus) by the route's fault; nothing is forwarded"
        }
        return nil
    }

    /// Each thing the route does on the way: `fault:`, `rewrite:`, `headers:`, `timeout:`, `retries:`, `mirror:`.
    static func steps(_ policy: RoutePolicy, stickiness: Stickiness?) -> [(label: String, text: String)] {
        var lines: [(String, String)] = []
        if let abort = policy.fault?.abort, abort.percentage.value < 100 {
            lines.append(("fault", "\(percent(abort.percentage)) of requests answered \(abort.httpStatus) without being forwarded"))
        }
        if let delay = policy.fault?.delay {
            lines.append(("fault", "\(percent(delay.percentage)) of requests held \(Readable.duration(delay.fixedDelay)) first"))
        }
        if let rewrite = policy.rewrite {
            let parts = [rewrite.uri.map { "the matched path prefix becomes \($0)" }, rewrite.authority.map { "host becomes \($0)" }]
            lines.append(("rewrite", parts.compactMap { $0 }.joined(separator: ", ")))
        }
        if let headers = policy.headers {
            for (side, operations) in [("request", headers.request), ("response", headers.response)] where !operations.isEmpty {
                lines.append(("headers", "\(side): " + describe(operations)))
            }
        }
        lines.append(("timeout", policy.timeout.map { "\(Readable.duration($0)) for the whole request, retries included" } ?? "none"))
        if let retries = policy.retries {
            let on = retries.retryOn.map(\.rawValue) + retries.retriableStatusCodes.map(String.init)
            let perTry = retries.perTryTimeout.map { ", \(Readable.duration($0)) a try" } ?? ""
            lines.append(("retries", "up to \(retries.attempts) on \(on.joined(separator: ", "))\(perTry)"))
        } else {
            lines.append(("retries", "off"))
        }
        if let mirror = policy.mirror {
            let port = mirror.destination.port.map { ":\($0)" } ?? ""
            lines.append(("mirror", "\(percent(mirror.percentage)) copied to \(mirror.destination.host)\(port); its answers are discarded"))
        }
        if let stickiness {
            lines.append(("sticky", "a request carrying \(stickiness) keeps its destination as the weights change"))
        }
        return lines
    }

    static func describe(_ operations: HeaderOperations) -> String {
        var parts: [String] = []
        parts += operations.set.sorted { $0.key < $1.key }.map { "set \($0.key): \($0.value)" }
        parts += operations.add.sorted { $0.key < $1.key }.map { "add \($0.key): \($0.value)" }
        parts += operations.remove.sorted().map { "remove \($0)" }
        return parts.joined(separator: ", ")
    }

    /// `25%`, `0.5%`.
    static func percent(_ share: Percent) -> String {
        share.value == share.value.rounded() ? "\(Int(share.value))%" : "\(share.value)%"
    }
}
