import SerinCore

/// The sticky canary's cookies and routes as Kubernetes stores them: `TrafficSplit+Affinity.swift` rendered on the
/// raw object. Route entries get their `Set-Cookie` under `headers.response.add` (any other header change they
/// carry stays), and the affinity routes are copies of the owned route matching the cookie header.
enum VirtualServiceAffinityRoute {
    /// `entries` (stable first, canary last) with the split's cookies: Serin's `Set-Cookie` removed from each, then
    /// set again where `withAffinityCookies` sets it.
    static func withCookies(_ entries: [JSONValue], split: TrafficSplit) -> [JSONValue] {
        guard let affinity = split.affinity else { return entries }
        return entries.enumerated().map { offset, entry in
            setCookie(split.affinityCookie(at: offset, of: entries.count), on: entry, affinity: affinity)
        }
    }

    /// The affinity routes ahead of `owned`, whose entries already carry the split's cookies.
    static func routes(ahead owned: JSONValue, split: TrafficSplit) -> [JSONValue] {
        guard let affinity = split.affinity, case .object(var fields) = owned, let entries = owned["route"]?.arrayValue,
            !entries.isEmpty
        else { return [] }
        var pinned = [(affinity.canaryRouteName, affinity.cookieName, entries.count - 1)]
        if let primary = affinity.primaryCookieName { pinned.append((affinity.primaryRouteName, primary, 0)) }
        let own = owned["match"]?.arrayValue ?? []
        let scopes: [JSONValue] = own.isEmpty ? [[:]] : own
        return pinned.map { name, cookie, side in
            fields["name"] = .string(name)
            let carrying = VirtualServiceMatchRoute.json(affinity.carrying(cookie))
            fields["match"] = .array(scopes.map { VirtualServiceMatchRoute.narrowed(carrying, to: $0) })
            if affinity.pins {
                var entry = entries[side].objectValue ?? [:]
                entry["weight"] = 100
                fields["route"] = [.object(entry)]
            } else {
                fields["route"] = .array(entries.map { setCookie(affinity.setCookie(cookie), on: $0, affinity: affinity) })
            }
            return .object(fields)
        }
    }

    /// `entry` without Serin's `Set-Cookie` (whatever case the key was written in), then with `value` when given.
    static func setCookie(_ value: String?, on entry: JSONValue, affinity: TrafficSplit.Affinity) -> JSONValue {
        guard case .object(var fields) = entry else { return entry }
        var headers = fields["headers"]?.objectValue ?? [:]
        var response = headers["response"]?.objectValue ?? [:]
        var add = response["add"]?.objectValue ?? [:]
        for (key, written) in add where key.lowercased() == TrafficSplit.setCookie {
            if let text = written.stringValue, affinity.isOwn(setCookie: text) { add[key] = nil }
        }
        if let value { add["Set-Cookie"] = .string(value) }
        response["add"] = add.isEmpty ? nil : .object(add)
        headers["response"] = response.isEmpty ? nil : .object(response)
        fields["headers"] = headers.isEmpty ? nil : .object(headers)
        return .object(fields)
    }
}
