import NIOCore
import SerinCore

/// A field the gateway adds to the answer to one request (`ProxyHandler.answerFields`): replacing the service's own
/// fields of that name (CORS), or beside them (a `set-cookie`).
struct AnswerField {
    let name: String
    let value: String
    let replaces: Bool

    /// A field of a route's `corsPolicy`, which replaces the service's own.
    init(replacing field: CorsPolicy.Field) {
        self.init(name: field.name, value: field.value, replaces: true)
    }

    init(name: String, value: String, replaces: Bool) {
        self.name = name
        self.value = value
        self.replaces = replaces
    }
}

extension ProxyHandler {
    /// The endpoint a DestinationRule's `loadBalancer` picks for this request: a random one, or the one its
    /// consistent-hash key goes to. A request without the key is served in turn, except that a cookie with a `ttl` is
    /// made for it (from the client's address) and set on the answer, as Envoy does, so the client's next requests
    /// carry it. The endpoint is nil when every endpoint is ejected; the key is the request's, if it has one.
    func balancedEndpoint(
        _ balancing: UpstreamCluster.Balancing, of cluster: UpstreamCluster, head: RequestHead, attributes: RequestAttributes
    ) -> (endpoint: Int?, key: UInt64?) {
        let key: UInt64?
        switch balancing {
        case .random:
            return (randomEndpoint(of: cluster), nil)
        case .hash(.header(let name)):
            key = head.fields.keyHash(.header(name))
        case .hash(.cookie(let name, let path, let ttl, let attributes)):
            if let hash = head.fields.keyHash(.cookie(name)) {
                key = hash
            } else if let ttl {
                let value = String(ConsistentHash.hash((clientAddress ?? "").utf8), radix: 16)
                let cookie = Self.setCookie(name, value, path: path, ttl: ttl, attributes: attributes)
                answerFields.append(AnswerField(name: "set-cookie", value: cookie, replaces: false))
                key = ConsistentHash.hash(value.utf8)
            } else {
                key = nil
            }
        case .hash(.sourceIP):
            key = clientAddress.map { ConsistentHash.hash($0.utf8) }
        case .hash(.queryParameter(let name)):
            key = attributes.queryValue(name).map { ConsistentHash.hash($0.utf8) }
        }
        guard let key else { return (cluster.pick(forTurn: endpointTurn, now: UpstreamCluster.now), nil) }
        return (cluster.pick(forHash: key, now: UpstreamCluster.now), key)
    }

    /// A random endpoint of those outlier detection has not ejected, for `RANDOM`.
    func randomEndpoint(of cluster: UpstreamCluster) -> Int? {
        cluster.pick(forTurn: Int(truncatingIfNeeded: random.next() >> 1), now: UpstreamCluster.now)
    }

    /// The `set-cookie` value for a cookie the gateway made: a session cookie when `ttl` is 0, its attributes after
    /// its path, as Envoy writes it.
    static func setCookie(
        _ name: String, _ value: String, path: String?, ttl: Duration, attributes: [LoadBalancerSettings.CookieAttribute]
    ) -> String {
        var parts = ["\(name)=\(value)"]
        if ttl > .zero { parts.append("Max-Age=\(ttl.components.seconds)") }
        if let path { parts.append("Path=\(path)") }
        parts += attributes.map { $0.value.isEmpty ? $0.name : "\($0.name)=\($0.value)" }
        parts.append("HttpOnly")
        return parts.joined(separator: "; ")
    }
}
