import SerinCore
import Yams

/// A DestinationRule's (or subset's) `trafficPolicy`, with Istio's field names, defaults and validation.
/// Istio policies Serin's gateway has no counterpart for are warned about and ignored, never refused.
extension ManifestDecoder {
    /// The sections a policy applies to a cluster's connections: a DestinationRule's, a subset's, or one port's.
    private static let policySections: Set<String> = ["connectionPool", "outlierDetection", "tls", "loadBalancer"]

    static func trafficPolicy(_ field: Field, reader: DocumentReader) -> TrafficPolicy? {
        let schema = Schema(known: policySections.union(["portLevelSettings", "retryBudget", "proxyProtocol", "tunnel"]))
        guard let fields = reader.mapping(field, schema) else { return nil }
        // Istio: "traffic policy must have at least one field".
        guard field.node.mapping?.isEmpty == false else {
            reader.error("\(field.path): expected at least one policy", at: field.node)
            return nil
        }
        var policy = sections(fields, reader: reader)
        policy.retryBudget = fields["retryBudget"].flatMap { retryBudget($0, reader: reader) }
        if let proxyField = fields["proxyProtocol"] {
            // Istio: "tunnel and proxyProtocol must not be set together".
            if field.node.mapping?.keys.contains(where: { $0.string == "tunnel" }) == true {
                reader.error("\(proxyField.path): tunnel and proxyProtocol must not be set together", at: proxyField.node)
            } else {
                policy.proxyProtocol = proxyProtocol(proxyField, reader: reader)
            }
        }
        policy.tunnel = fields["tunnel"].flatMap { tunnel($0, reader: reader) }
        if let ports = fields["portLevelSettings"], let entries = reader.list(ports) {
            for entry in entries {
                guard let decoded = portTrafficPolicy(entry, reader: reader) else { continue }
                if policy.portLevelSettings.contains(where: { $0.port == decoded.port }) {
                    reader.warning(
                        "\(entry.path): port \(decoded.port) has an earlier entry in portLevelSettings; as in Istio, only the first applies",
                        at: entry.node
                    )
                }
                policy.portLevelSettings.append(decoded)
            }
        }
        return policy
    }

    /// One entry of `portLevelSettings`: `port: {number}` and at least one section, which replace the policy's own for
    /// that port (Istio: "port level policies do not inherit").
    private static func portTrafficPolicy(_ field: Field, reader: DocumentReader) -> TrafficPolicy.PortTrafficPolicy? {
        let schema = Schema(known: policySections.union(["port"]))
        guard let fields = reader.mapping(field, schema) else { return nil }
        guard let portField = reader.required("port", in: fields),
            let port = reader.mapping(portField, Schema(known: ["number"])).flatMap({ reader.required("number", in: $0) }).flatMap(reader.port)
        else { return nil }
        guard fields.children.keys.contains(where: policySections.contains) else {
            let names = policySections.sorted().joined(separator: ", ")
            reader.error("\(field.path): expected at least one of \(names) for port \(port)", at: field.node)
            return nil
        }
        return TrafficPolicy.PortTrafficPolicy(port: port, policy: sections(fields, reader: reader))
    }

    /// The four sections of a policy or of one port's.
    private static func sections(_ fields: Fields, reader: DocumentReader) -> TrafficPolicy {
        let policy = TrafficPolicy(
            connectionPool: fields["connectionPool"].flatMap { connectionPool($0, reader: reader) },
            outlierDetection: fields["outlierDetection"].flatMap { outlierDetection($0, reader: reader) },
            tls: fields["tls"].flatMap { clientTLS($0, reader: reader) },
            loadBalancer: fields["loadBalancer"].flatMap { loadBalancer($0, reader: reader) }
        )
        if policy.connectionPool?.http.usesClientProtocol == true, policy.tls != nil, let tls = fields["tls"] {
            // One TLS context per cluster offers one ALPN list: the port's protocol.
            reader.warning(
                "\(tls.path): with connectionPool.http.useClientProtocol, TLS to the endpoints still offers ALPN for the port's"
                    + " protocol only; requests in the other protocol may fail the handshake",
                at: tls.node
            )
        }
        return policy
    }

    /// `retryBudget`: `percent` (a number from 0 to 100, Envoy's bounds; 20 when left out) and `minRetryConcurrency`
    /// (3 when left out or 0, as Istio writes it). `budgetInterval` is taken with a warning: the budget counts the
    /// requests in flight now, as Envoy does without one.
    private static func retryBudget(_ field: Field, reader: DocumentReader) -> RetryBudget? {
        let schema = Schema(known: ["percent", "minRetryConcurrency"], notSupported: ["budgetInterval"])
        guard let fields = reader.mapping(field, schema) else { return nil }
        var budget = RetryBudget()
        if let percentField = fields["percent"] {
            guard let percent = reader.number(percentField) else { return nil }
            guard (0...100).contains(percent) else {
                let written = percentField.node.string ?? "\(percent)"
                reader.error("\(percentField.path): expected a percentage from 0 to 100, got \(written)", at: percentField.node)
                return nil
            }
            budget.percent = percent
        }
        if let minimumField = fields["minRetryConcurrency"] {
            guard let minimum = reader.count(minimumField) else { return nil }
            if minimum > 0 { budget.minRetryConcurrency = minimum }
        }
        return budget
    }

    /// `proxyProtocol`: `version`, `V1` (Istio's default, also when left out) or `V2`.
    private static func proxyProtocol(_ field: Field, reader: DocumentReader) -> ProxyProtocolVersion? {
        guard let fields = reader.mapping(field, Schema(known: ["version"])) else { return nil }
        guard let versionField = fields["version"] else { return .v1 }
        return reader.choice(versionField, as: ProxyProtocolVersion.self)
    }

    /// `tunnel`: `targetHost` (a name or an IP address) and `targetPort`, both required, and `protocol`, `CONNECT` (the
    /// default) or `POST` as Istio validates it; the gateway tunnels with CONNECT over HTTP/1.1, so `POST` is refused
    /// rather than sent on as plain bytes.
    private static func tunnel(_ field: Field, reader: DocumentReader) -> TunnelSettings? {
        guard let fields = reader.mapping(field, Schema(known: ["protocol", "targetHost", "targetPort"])) else { return nil }
        if let protocolField = fields["protocol"], let name = reader.string(protocolField) {
            switch name {
            case "", "CONNECT": break
            case "POST":
                reader.error(
                    "\(protocolField.path): POST tunnels are not supported: the embedded gateway tunnels with CONNECT (leave protocol out, or write CONNECT)",
                    at: protocolField.node
                )
                return nil
            default:
                reader.error("\(protocolField.path): expected CONNECT or POST, got \"\(name)\"", at: protocolField.node)
                return nil
            }
        }
        let hostField = reader.required("targetHost", in: fields)
        let portField = reader.required("targetPort", in: fields)
        guard let hostField, let host = reader.string(hostField), let portField, let port = reader.port(portField) else { return nil }
        guard TunnelSettings.isHost(host) else {
            reader.error("\(hostField.path): expected a host name or an IP address, got \"\(host)\"", at: hostField.node)
            return nil
        }
        return TunnelSettings(targetHost: host, targetPort: port)
    }

    /// `loadBalancer`: `simple` or `consistentHash` (one of them, as Istio's oneof), and `localityLbSetting`. What only
    /// shapes a hash ring or warms endpoints up is taken with a warning.
    private static func loadBalancer(_ field: Field, reader: DocumentReader) -> LoadBalancerSettings? {
        let schema = Schema(
            known: ["simple", "consistentHash", "localityLbSetting", "warmupDurationSecs", "warmup"], notSupported: ["zoneAwareLbSetting"]
        )
        guard let fields = reader.mapping(field, schema) else { return nil }
        let locality = fields["localityLbSetting"].flatMap { localityLoadBalancing($0, reader: reader) }
        var warmup = fields["warmup"].flatMap { warmupSetting($0, reader: reader) }
        if let older = fields["warmupDurationSecs"] {
            if fields["warmup"] != nil {
                reader.warning("\(older.path) is ignored: warmup is set, and Istio takes it first", at: older.node)
            } else {
                warmup = reader.positiveDuration(older).map { LoadBalancerSettings.Warmup(duration: $0) }
            }
        }
        let settings = balancing(field, fields, reader: reader)
        if let written = fields["warmup"] ?? fields["warmupDurationSecs"], settings?.consistentHash != nil || settings?.simple == .random {
            reader.warning(
                "\(written.path) applies to ROUND_ROBIN and LEAST_REQUEST only, as in Envoy: ignored beside \(settings?.simple == .random ? "RANDOM" : "consistentHash")",
                at: written.node)
            warmup = nil
        }
        guard var settings = settings ?? (locality != nil || warmup != nil ? LoadBalancerSettings() : nil) else { return nil }
        settings.locality = locality
        settings.warmup = warmup
        return settings
    }

    /// `warmup`: `duration` (required), `minimumPercent` (0-100, default 10) and `aggression` (at least 1, default 1).
    private static func warmupSetting(_ field: Field, reader: DocumentReader) -> LoadBalancerSettings.Warmup? {
        guard let fields = reader.mapping(field, Schema(known: ["duration", "minimumPercent", "aggression"])),
            let durationField = reader.required("duration", in: fields), let duration = reader.positiveDuration(durationField)
        else { return nil }
        var warmup = LoadBalancerSettings.Warmup(duration: duration)
        if let percentField = fields["minimumPercent"], let percent = reader.number(percentField) {
            guard (0...100).contains(percent) else {
                reader.error("\(percentField.path) is \(percent), expected 0 to 100", at: percentField.node)
                return nil
            }
            warmup.minimumPercent = percent
        }
        if let aggressionField = fields["aggression"], let aggression = reader.number(aggressionField) {
            guard aggression >= 1 else {
                reader.error("\(aggressionField.path) is \(aggression), expected 1 or more (1: a linear ramp)", at: aggressionField.node)
                return nil
            }
            warmup.aggression = aggression
        }
        return warmup
    }

    /// `localityLbSetting`: `enabled`, `failover` (region to region) and `failoverPriority` (labels); `distribute` is
    /// warned about and not applied.
    private static func localityLoadBalancing(_ field: Field, reader: DocumentReader) -> LocalityLoadBalancing? {
        let schema = Schema(known: ["enabled", "failover", "failoverPriority", "distribute"])
        guard let fields = reader.mapping(field, schema) else { return nil }
        var setting = LocalityLoadBalancing(enabled: fields["enabled"].flatMap(reader.bool) ?? true)
        if let priorityField = fields["failoverPriority"], let labels = reader.stringList(priorityField) {
            for (index, label) in labels.enumerated() where label.isEmpty || label.hasPrefix("=") {
                reader.error("\(priorityField.path)[\(index)] is \"\(label)\", expected a label key, or key=value", at: priorityField.node)
            }
            setting.failoverPriority = labels
        }
        if let failoverField = fields["failover"] {
            setting.failover = reader.list(failoverField) { entry -> LocalityLoadBalancing.Failover? in
                guard let entryFields = reader.mapping(entry, Schema(known: ["from", "to"])),
                    let fromField = reader.required("from", in: entryFields), let from = reader.string(fromField),
                    let toField = reader.required("to", in: entryFields), let to = reader.string(toField)
                else { return nil }
                // As Istio validates it: regions only, and a region does not fail over to itself.
                for (name, value, at) in [("from", from, fromField), ("to", to, toField)] where value.isEmpty || value.contains("/") {
                    reader.error("\(at.path) is \"\(value)\", expected a region (no zone), the \(name) side of the failover", at: at.node)
                    return nil
                }
                guard from != to else {
                    reader.error("\(entry.path): from and to are both \(from); a region fails over to another", at: entry.node)
                    return nil
                }
                return LocalityLoadBalancing.Failover(from: from, to: to)
            } ?? []
        }
        if let distributeField = fields["distribute"] {
            if let failoverField = fields["failover"] {
                reader.error("\(field.path): set one of distribute or failover, not both (Istio applies one)", at: failoverField.node)
            }
            setting.distribute = reader.list(distributeField) { distribution($0, reader: reader) } ?? []
        }
        return setting
    }

    /// One `distribute` entry: `from` a locality pattern, `to` patterns and weights adding to 100, as Istio validates.
    private static func distribution(_ field: Field, reader: DocumentReader) -> LocalityLoadBalancing.Distribute? {
        guard let fields = reader.mapping(field, Schema(known: ["from", "to"])),
            let fromField = reader.required("from", in: fields), let from = reader.string(fromField),
            let toField = reader.required("to", in: fields), let entries = reader.entries(toField)
        else { return nil }
        var shares: [LocalityLoadBalancing.Distribute.Share] = []
        for (locality, weightField) in entries {
            guard let weight = reader.count(weightField) else { continue }
            shares.append(.init(locality: locality, weight: weight))
        }
        let total = shares.reduce(0) { $0 + $1.weight }
        if shares.count == entries.count, total != 100 {
            reader.error("\(toField.path): the weights add to \(total), expected 100", at: toField.node)
            return nil
        }
        return LocalityLoadBalancing.Distribute(from: from, to: shares)
    }

    /// `simple` or `consistentHash`, as `loadBalancer` holds them; nil when neither is written.
    private static func balancing(_ field: Field, _ fields: Fields, reader: DocumentReader) -> LoadBalancerSettings? {
        if fields["simple"] != nil, let hash = fields["consistentHash"] {
            reader.error("\(field.path): set one of simple or consistentHash, not both", at: hash.node)
            return nil
        }
        if let simpleField = fields["simple"], let name = reader.string(simpleField) {
            switch name {
            case "UNSPECIFIED":
                return nil
            case "LEAST_CONN":
                reader.warning("\(simpleField.path): LEAST_CONN is deprecated: use LEAST_REQUEST", at: simpleField.node)
                return LoadBalancerSettings(simple: .leastRequest)
            case "PASSTHROUGH":
                reader.unsupported(
                    "\(simpleField.path): PASSTHROUGH sends each request to the address its client connected to, which the "
                        + "embedded gateway, routing by endpoints, cannot know",
                    at: simpleField.node)
                return nil
            default:
                guard let simple = LoadBalancerSettings.Simple(rawValue: name) else {
                    let names = LoadBalancerSettings.Simple.allCases.map(\.rawValue) + ["UNSPECIFIED", "PASSTHROUGH"]
                    reader.error("\(simpleField.path) is \"\(name)\", expected one of \(names.joined(separator: ", "))", at: simpleField.node)
                    return nil
                }
                return LoadBalancerSettings(simple: simple)
            }
        }
        guard let hashField = fields["consistentHash"] else { return nil }
        return consistentHash(hashField, reader: reader).map { LoadBalancerSettings(consistentHash: $0) }
    }

    /// `consistentHash`: one key, `httpHeaderName`, `httpCookie`, `useSourceIp` or `httpQueryParameterName`.
    private static func consistentHash(_ field: Field, reader: DocumentReader) -> LoadBalancerSettings.HashKey? {
        let keys = ["httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName"]
        let schema = Schema(known: Set(keys), notSupported: ["ringHash", "maglev", "minimumRingSize"])
        guard let fields = reader.mapping(field, schema) else { return nil }
        let written = keys.filter { fields[$0] != nil }
        guard let key = written.first, written.count == 1 else {
            let got = written.isEmpty ? "none" : written.joined(separator: " and ")
            reader.error("\(field.path): expected one of \(keys.joined(separator: ", ")), got \(got)", at: field.node)
            return nil
        }
        let value = fields[key]!
        switch key {
        case "httpHeaderName":
            return reader.string(value).flatMap { name in headerName(name, at: value, reader: reader) }.map { .header($0) }
        case "httpQueryParameterName":
            guard let name = reader.string(value) else { return nil }
            guard !name.isEmpty else {
                reader.error("\(value.path): expected a query parameter's name, got \"\"", at: value.node)
                return nil
            }
            return .queryParameter(name)
        case "useSourceIp":
            guard let use = reader.bool(value) else { return nil }
            guard use else {
                reader.error("\(value.path) is false, which names no key: set it true, or hash on another key", at: value.node)
                return nil
            }
            return .sourceIP
        default:
            guard let cookie = reader.mapping(value, Schema(known: ["name", "path", "ttl", "attributes"])),
                let nameField = reader.required("name", in: cookie), let name = reader.string(nameField)
            else { return nil }
            guard !name.isEmpty else {
                reader.error("\(nameField.path): expected a cookie name, got \"\" (Istio requires one)", at: nameField.node)
                return nil
            }
            let path = cookie["path"].flatMap(reader.string)
            var ttl: Duration?
            if let ttlField = cookie["ttl"] {
                // 0s is allowed here: the cookie the gateway makes is then a session cookie.
                guard let read = reader.duration(ttlField) else { return nil }
                ttl = read
            }
            var attributes: [LoadBalancerSettings.CookieAttribute] = []
            if let list = cookie["attributes"] {
                guard let entries = reader.list(list) else { return nil }
                for entry in entries {
                    guard let attribute = cookieAttribute(entry, reader: reader) else { return nil }
                    guard !attributes.contains(where: { $0.name == attribute.name }) else {
                        reader.error("\(entry.path).name: \"\(attribute.name)\" is given twice (Istio refuses a duplicate)", at: entry.node)
                        return nil
                    }
                    attributes.append(attribute)
                }
            }
            return .cookie(name: name, path: path, ttl: ttl, attributes: attributes)
        }
    }

    /// One of `httpCookie.attributes`: a name (required, as Istio), and a value, which may be left out (`Secure`). Both
    /// go into the `set-cookie` field as written, so neither may hold a `;` or a control byte.
    private static func cookieAttribute(_ field: Field, reader: DocumentReader) -> LoadBalancerSettings.CookieAttribute? {
        guard let fields = reader.mapping(field, Schema(known: ["name", "value"])),
            let nameField = reader.required("name", in: fields), let name = reader.string(nameField)
        else { return nil }
        guard !name.isEmpty else {
            reader.error("\(nameField.path): expected a cookie attribute's name, got \"\" (Istio requires one)", at: nameField.node)
            return nil
        }
        let valueField = fields["value"]
        let value = valueField.flatMap(reader.string) ?? ""
        for (text, at) in [(name, nameField), (value, valueField ?? nameField)]
        where text.unicodeScalars.contains(where: { $0 == ";" || $0.value < 0x20 || $0.value == 0x7F }) {
            reader.error("\(at.path): \"\(text)\" holds a ';' or a control character, which would end the cookie's attribute", at: at.node)
            return nil
        }
        return LoadBalancerSettings.CookieAttribute(name: name, value: value)
    }

    /// `connectionPool: {tcp, http}`. Istio reads a count of 0 as unset, so 0 becomes nil: the default.
    private static func connectionPool(_ field: Field, reader: DocumentReader) -> ConnectionPoolSettings? {
        guard let fields = reader.mapping(field, Schema(known: ["tcp", "http"])) else { return nil }
        guard fields["tcp"] != nil || fields["http"] != nil else {
            reader.error("\(field.path): expected tcp, http or both", at: field.node)
            return nil
        }
        func limit(_ field: Field?) -> Int? {
            field.flatMap(reader.count).flatMap { $0 == 0 ? nil : $0 }
        }
        var pool = ConnectionPoolSettings()
        let tcpSchema = Schema(known: ["maxConnections", "connectTimeout", "tcpKeepalive", "maxConnectionDuration", "idleTimeout"])
        if let tcpField = fields["tcp"], let tcp = reader.mapping(tcpField, tcpSchema) {
            pool.tcp.maxConnections = limit(tcp["maxConnections"])
            pool.tcp.connectTimeout = tcp["connectTimeout"].flatMap(reader.positiveDuration)
            pool.tcp.maxConnectionDuration = tcp["maxConnectionDuration"].flatMap(reader.positiveDuration)
            if let idle = tcp["idleTimeout"] {
                // Istio takes 0s here: no idle timeout at all.
                if case .scalar(let scalar) = idle.node, DurationText.parse(scalar.string, allowingFractions: true) == .zero {
                    pool.tcp.idleTimeout = .zero
                } else {
                    pool.tcp.idleTimeout = reader.positiveDuration(idle)
                }
            }
            if let keepaliveField = tcp["tcpKeepalive"],
                let keepalive = reader.mapping(keepaliveField, Schema(known: ["probes", "time", "interval"]))
            {
                pool.tcp.tcpKeepalive = ConnectionPoolSettings.TCPKeepalive(
                    probes: limit(keepalive["probes"]),
                    time: keepalive["time"].flatMap { keepaliveSeconds($0, reader: reader) },
                    interval: keepalive["interval"].flatMap { keepaliveSeconds($0, reader: reader) }
                )
            }
        }
        let httpSchema = Schema(
            known: [
                "http1MaxPendingRequests", "maxRequestsPerConnection", "idleTimeout", "h2UpgradePolicy", "http2MaxRequests",
                "useClientProtocol", "maxConcurrentStreams", "maxRetries",
            ]
        )
        if let httpField = fields["http"], let http = reader.mapping(httpField, httpSchema) {
            pool.http.http1MaxPendingRequests = limit(http["http1MaxPendingRequests"])
            pool.http.http2MaxRequests = limit(http["http2MaxRequests"])
            pool.http.maxConcurrentStreams = limit(http["maxConcurrentStreams"])
            pool.http.maxRetries = limit(http["maxRetries"])
            pool.http.usesClientProtocol = http["useClientProtocol"].flatMap(reader.bool)
            pool.http.maxRequestsPerConnection = limit(http["maxRequestsPerConnection"])
            pool.http.idleTimeout = http["idleTimeout"].flatMap(reader.positiveDuration)
            if let policyField = http["h2UpgradePolicy"], let policy = reader.string(policyField) {
                switch policy {
                case "UPGRADE": pool.http.upgradesToHTTP2 = true
                case "DO_NOT_UPGRADE": pool.http.upgradesToHTTP2 = false
                case "DEFAULT": break
                default:
                    reader.error(
                        "\(policyField.path): expected one of DEFAULT, DO_NOT_UPGRADE, UPGRADE, got \"\(policy)\"", at: policyField.node
                    )
                }
            }
        }
        return pool
    }

    /// A `tcpKeepalive` time or interval: the kernel counts them in whole seconds (Envoy passes Istio's seconds on and
    /// drops the rest), so one under a second, which would turn into 0, is an error rather than a silent change.
    private static func keepaliveSeconds(_ field: Field, reader: DocumentReader) -> Duration? {
        guard let value = reader.positiveDuration(field) else { return nil }
        guard value >= .seconds(1) else {
            let written = field.node.scalar?.string ?? "\(value)"
            reader.error("\(field.path): expected at least 1s (the kernel counts keepalive in whole seconds), got \"\(written)\"", at: field.node)
            return nil
        }
        return .seconds(value.components.seconds)
    }

    /// `outlierDetection`: what is omitted takes Istio's defaults (`OutlierDetection()`).
    private static func outlierDetection(_ field: Field, reader: DocumentReader) -> OutlierDetection? {
        let schema = Schema(
            known: [
                "consecutive5xxErrors", "consecutiveGatewayErrors", "interval", "baseEjectionTime", "maxEjectionPercent",
                "minHealthPercent", "splitExternalLocalOriginErrors", "consecutiveLocalOriginFailures",
            ],
            notSupported: ["consecutiveErrors"]
        )
        guard let fields = reader.mapping(field, schema) else { return nil }
        var detection = OutlierDetection()
        if let value = fields["consecutive5xxErrors"].flatMap(reader.count) { detection.consecutive5xxErrors = value }
        if let value = fields["consecutiveGatewayErrors"].flatMap(reader.count) { detection.consecutiveGatewayErrors = value }
        if let value = fields["interval"].flatMap(reader.positiveDuration) { detection.interval = value }
        if let value = fields["baseEjectionTime"].flatMap(reader.positiveDuration) {
            detection.baseEjectionTime = value
        }
        if let value = fields["maxEjectionPercent"].flatMap(reader.percent) { detection.maxEjectionPercent = value }
        if let value = fields["minHealthPercent"].flatMap(reader.percent) { detection.minHealthPercent = value }
        if let value = fields["splitExternalLocalOriginErrors"].flatMap(reader.bool) { detection.splitExternalLocalOriginErrors = value }
        // Istio passes only a count above 0 on, so 0 leaves Envoy's default of 5.
        if let value = fields["consecutiveLocalOriginFailures"].flatMap(reader.count), value > 0 {
            detection.consecutiveLocalOriginFailures = value
        }
        if let field = fields["consecutiveLocalOriginFailures"], !detection.splitExternalLocalOriginErrors {
            reader.warning("\(field.path) takes effect only with splitExternalLocalOriginErrors: true", at: field.node)
        }
        return detection
    }
}
