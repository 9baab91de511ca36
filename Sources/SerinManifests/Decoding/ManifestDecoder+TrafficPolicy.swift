import SerinCore
import Yams

/// A DestinationRule's (or subset's) `trafficPolicy`, with Istio's field names, defaults and validation.
/// Istio policies Serin's gateway has no counterpart for are warned about and ignored, never refused.
extension ManifestDecoder {
    static let trafficPolicyNotSupported: Set<String> = [
        "loadBalancer", "portLevelSettings", "tunnel", "proxyProtocol", "retryBudget",
    ]

    static func trafficPolicy(_ field: Field, reader: DocumentReader) -> TrafficPolicy? {
        let schema = Schema(known: ["connectionPool", "outlierDetection", "tls"], notSupported: trafficPolicyNotSupported)
        guard let fields = reader.mapping(field, schema) else { return nil }
        // Istio: "traffic policy must have at least one field".
        guard field.node.mapping?.isEmpty == false else {
            reader.error("\(field.path): expected at least one policy", at: field.node)
            return nil
        }
        let policy = TrafficPolicy(
            connectionPool: fields["connectionPool"].flatMap { connectionPool($0, reader: reader) },
            outlierDetection: fields["outlierDetection"].flatMap { outlierDetection($0, reader: reader) },
            tls: fields["tls"].flatMap { clientTLS($0, reader: reader) }
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
        let tcpSchema = Schema(
            known: ["maxConnections", "connectTimeout"],
            notSupported: ["tcpKeepalive", "maxConnectionDuration", "idleTimeout"]
        )
        if let tcpField = fields["tcp"], let tcp = reader.mapping(tcpField, tcpSchema) {
            pool.tcp.maxConnections = limit(tcp["maxConnections"])
            pool.tcp.connectTimeout = tcp["connectTimeout"].flatMap(reader.positiveDuration)
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

    /// `outlierDetection`: what is omitted takes Istio's defaults (`OutlierDetection()`).
    private static func outlierDetection(_ field: Field, reader: DocumentReader) -> OutlierDetection? {
        let schema = Schema(
            known: [
                "consecutive5xxErrors", "consecutiveGatewayErrors", "interval", "baseEjectionTime", "maxEjectionPercent",
                "minHealthPercent",
            ],
            notSupported: ["consecutiveErrors", "splitExternalLocalOriginErrors", "consecutiveLocalOriginFailures"]
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
        return detection
    }
}
