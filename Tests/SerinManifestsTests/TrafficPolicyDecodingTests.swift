import Foundation
import SerinCore
import SerinManifests
import Testing

@Suite("DestinationRule traffic policy decoding")
struct TrafficPolicyDecodingTests {
    /// A DestinationRule for `web` whose spec continues with `rest` (indented as spec fields), from line 6 on.
    private static func rule(_ rest: String, apiVersion: String = "networking.istio.io/v1") -> String {
        """
        apiVersion: \(apiVersion)
        kind: DestinationRule
        metadata: {name: web}
        spec:
          host: web
        \(rest)
        """
    }

    private static func decoded(_ rest: String, apiVersion: String = "networking.istio.io/v1") -> (DestinationRule?, [String]) {
        let (resources, diagnostics) = Fixture.decode(rule(rest, apiVersion: apiVersion))
        guard case .destinationRule(let value)? = resources.first?.resource else { return (nil, Fixture.messages(diagnostics)) }
        return (value, Fixture.messages(diagnostics))
    }

    @Test(
        "decodes the rule's traffic policy and each subset's, in each Istio API version",
        arguments: ["networking.istio.io/v1alpha3", "networking.istio.io/v1beta1", "networking.istio.io/v1"]
    )
    func policies(apiVersion: String) {
        let rest = """
              trafficPolicy:
                connectionPool:
                  tcp:
                    maxConnections: 100
                    connectTimeout: 250ms
                  http:
                    http1MaxPendingRequests: 10
                    maxRequestsPerConnection: 1
                    idleTimeout: 30s
                outlierDetection:
                  consecutive5xxErrors: 7
                  consecutiveGatewayErrors: 3
                  interval: 5s
                  baseEjectionTime: 1m
                  maxEjectionPercent: 50
                  minHealthPercent: 30
              subsets:
              - name: v1
                labels: {version: v1}
              - name: v2
                labels: {version: v2}
                trafficPolicy:
                  connectionPool:
                    http: {http1MaxPendingRequests: 1}
            """
        let (rule, messages) = Self.decoded(rest, apiVersion: apiVersion)
        #expect(messages.isEmpty, "\(messages)")
        let topLevel = TrafficPolicy(
            connectionPool: ConnectionPoolSettings(
                tcp: .init(maxConnections: 100, connectTimeout: .milliseconds(250)),
                http: .init(http1MaxPendingRequests: 10, maxRequestsPerConnection: 1, idleTimeout: .seconds(30))
            ),
            outlierDetection: OutlierDetection(
                consecutive5xxErrors: 7, consecutiveGatewayErrors: 3, interval: .seconds(5), baseEjectionTime: .seconds(60),
                maxEjectionPercent: 50, minHealthPercent: 30
            )
        )
        let expected = DestinationRule(
            name: ResourceName(name: "web"), host: "web",
            subsets: [
                .init(name: "v1", labels: ["version": "v1"]),
                .init(
                    name: "v2", labels: ["version": "v2"],
                    trafficPolicy: TrafficPolicy(connectionPool: ConnectionPoolSettings(http: .init(http1MaxPendingRequests: 1)))
                ),
            ],
            trafficPolicy: topLevel
        )
        #expect(rule == expected)
    }

    @Test(
        "takes Istio's defaults for what a policy leaves out",
        arguments: [
            ("  trafficPolicy:\n    outlierDetection: {}", TrafficPolicy(outlierDetection: OutlierDetection())),
            (
                "  trafficPolicy:\n    outlierDetection: {consecutive5xxErrors: 0, consecutiveGatewayErrors: 2}",
                TrafficPolicy(outlierDetection: OutlierDetection(consecutive5xxErrors: 0, consecutiveGatewayErrors: 2))
            ),
            // Istio reads a limit of 0 as unset: no limit.
            (
                "  trafficPolicy:\n    connectionPool: {tcp: {maxConnections: 0}, http: {maxRequestsPerConnection: 0}}",
                TrafficPolicy(connectionPool: ConnectionPoolSettings())
            ),
            ("  trafficPolicy:\n    connectionPool: {tcp: {}}", TrafficPolicy(connectionPool: ConnectionPoolSettings())),
            (
                "  trafficPolicy:\n    connectionPool: {http: {http2MaxRequests: 5, useClientProtocol: true, maxConcurrentStreams: 3}}",
                TrafficPolicy(
                    connectionPool: ConnectionPoolSettings(http: .init(http2MaxRequests: 5, usesClientProtocol: true, maxConcurrentStreams: 3))
                )
            ),
            (
                "  trafficPolicy:\n    connectionPool: {http: {http2MaxRequests: 0, useClientProtocol: false}}",
                TrafficPolicy(connectionPool: ConnectionPoolSettings(http: .init(usesClientProtocol: false)))
            ),
            (
                "  trafficPolicy:\n    connectionPool: {http: {maxRetries: 2}}",
                TrafficPolicy(connectionPool: ConnectionPoolSettings(http: .init(maxRetries: 2)))
            ),
            ("  trafficPolicy:\n    connectionPool: {http: {maxRetries: 0}}", TrafficPolicy(connectionPool: ConnectionPoolSettings())),
            // retryBudget alone is a policy; Istio's defaults are 20% and at least 3, and a minimum of 0 is unset.
            ("  trafficPolicy:\n    retryBudget: {}", TrafficPolicy(retryBudget: RetryBudget(percent: 20, minRetryConcurrency: 3))),
            (
                "  trafficPolicy:\n    retryBudget: {percent: 12.5, minRetryConcurrency: 5}",
                TrafficPolicy(retryBudget: RetryBudget(percent: 12.5, minRetryConcurrency: 5))
            ),
            (
                "  trafficPolicy:\n    retryBudget: {percent: 30, minRetryConcurrency: 0}",
                TrafficPolicy(retryBudget: RetryBudget(percent: 30, minRetryConcurrency: 3))
            ),
            // proxyProtocol's version is V1 when left out, as Istio's enum starts there.
            ("  trafficPolicy:\n    proxyProtocol: {}", TrafficPolicy(proxyProtocol: .v1)),
            ("  trafficPolicy:\n    proxyProtocol: {version: V2}", TrafficPolicy(proxyProtocol: .v2)),
            // tunnel: CONNECT when protocol is left out, as Istio's default; an IP address is a host too.
            (
                "  trafficPolicy:\n    tunnel: {targetHost: egress.example.com, targetPort: 8443}",
                TrafficPolicy(tunnel: TunnelSettings(targetHost: "egress.example.com", targetPort: 8443))
            ),
            (
                "  trafficPolicy:\n    tunnel: {protocol: CONNECT, targetHost: 10.0.0.7, targetPort: 3128}",
                TrafficPolicy(tunnel: TunnelSettings(targetHost: "10.0.0.7", targetPort: 3128))
            ),
        ]
    )
    func defaults(rest: String, expected: TrafficPolicy) {
        let (rule, messages) = Self.decoded(rest)
        #expect(messages.isEmpty, "\(messages)")
        #expect(rule?.trafficPolicy == expected)
    }

    @Test("OutlierDetection's defaults are Istio's: 5 errors in a row, every 10s, ejected 30s, at most 10%")
    func outlierDefaults() {
        let detection = OutlierDetection()
        #expect(detection.consecutive5xxErrors == 5)
        #expect(detection.consecutiveGatewayErrors == 0)
        #expect(detection.interval == .seconds(10))
        #expect(detection.baseEjectionTime == .seconds(30))
        #expect(detection.maxEjectionPercent == 10)
    }

    @Test("caCrl is refused at its field, as on a Gateway server: ignoring it would trust endpoints meant to be refused")
    func clientTLSRevocationList() {
        let (_, refused) = Self.decoded("  trafficPolicy:\n    tls: {mode: SIMPLE, caCertificates: /etc/hosts, caCrl: /etc/hosts}")
        #expect(refused == [
            "test.yaml:7:60: error: spec.trafficPolicy.tls.caCrl is not supported by the embedded gateway: certificate revocation lists are not checked"
        ])
    }

    @Test("reads tls to the cluster's endpoints, paths relative to the manifest; ISTIO_MUTUAL is refused at its field")
    func clientTLS() {
        let (rule, messages) = Self.decoded("  trafficPolicy:\n    tls: {mode: SIMPLE, caCertificates: /etc/hosts, sni: web.internal}")
        #expect(messages.isEmpty)
        #expect(rule?.trafficPolicy.tls == ClientTLS(mode: .simple, caCertificates: "/etc/hosts", sni: "web.internal"))
        let (_, refused) = Self.decoded("  trafficPolicy:\n    tls: {mode: ISTIO_MUTUAL}")
        #expect(
            refused == [
                "test.yaml:7:17: error: spec.trafficPolicy.tls.mode: mode ISTIO_MUTUAL is not supported: it uses the mesh's "
                    + "Istio-issued certificates, which the embedded gateway has none of; use SIMPLE or MUTUAL with certificate files"
            ]
        )
    }

    @Test("reads subjectAltNames, the names the endpoint's certificate must carry; with insecureSkipVerify it is an error, as in Istio")
    func clientTLSSubjectAltNames() {
        let (rule, messages) = Self.decoded("  trafficPolicy:\n    tls: {mode: SIMPLE, subjectAltNames: [web.internal, spiffe://cluster.local/ns/default/sa/web]}")
        #expect(messages.isEmpty)
        #expect(rule?.trafficPolicy.tls?.subjectAltNames == ["web.internal", "spiffe://cluster.local/ns/default/sa/web"])
        let (_, contradictions) = Self.decoded(
            "  trafficPolicy:\n    tls: {mode: SIMPLE, caCertificates: /etc/hosts, subjectAltNames: [web.internal], insecureSkipVerify: true}"
        )
        #expect(contradictions == [
            "test.yaml:7:106: error: spec.trafficPolicy.tls: cannot specify caCertificates when insecureSkipVerify is true: "
                + "the endpoint's certificate would not be verified",
            "test.yaml:7:106: error: spec.trafficPolicy.tls: cannot specify subjectAltNames when insecureSkipVerify is true: "
                + "the endpoint's certificate would not be verified",
        ])
        let (_, empty) = Self.decoded("  trafficPolicy:\n    tls: {mode: SIMPLE, subjectAltNames: [web.internal, \"\"]}")
        #expect(empty == ["test.yaml:7:57: error: spec.trafficPolicy.tls.subjectAltNames[1]: expected a name, got an empty string"])
    }

    @Test("the names an endpoint's certificate is checked against: subjectAltNames, else the host when sni is left out too, else none; a policy saved before subjectAltNames reads as having none")
    func verifiedNames() throws {
        let saved = try JSONDecoder().decode(ClientTLS.self, from: Data(#"{"mode":"SIMPLE","insecureSkipVerify":false,"sni":"a"}"#.utf8))
        #expect(saved == ClientTLS(mode: .simple, sni: "a"))
        let roundTrip = ClientTLS(mode: .mutual, subjectAltNames: ["a", "b"])
        #expect(try JSONDecoder().decode(ClientTLS.self, from: JSONEncoder().encode(roundTrip)) == roundTrip)
        #expect(ClientTLS(mode: .simple).verifiedNames(host: "api.example.com") == ["api.example.com"])
        #expect(ClientTLS(mode: .mutual).verifiedNames(host: "10.0.0.7") == ["10.0.0.7"])
        #expect(ClientTLS(mode: .simple, sni: "api.internal").verifiedNames(host: "api.example.com") == nil)
        #expect(
            ClientTLS(mode: .simple, sni: "api.internal", subjectAltNames: ["api.internal"]).verifiedNames(host: "api.example.com")
                == ["api.internal"]
        )
        #expect(ClientTLS(mode: .simple, insecureSkipVerify: true).verifiedNames(host: "api.example.com") == nil)
        #expect(ClientTLS(mode: .disable).verifiedNames(host: "api.example.com") == nil)
    }

    @Test(
        "warns about each traffic policy Serin's gateway does not support, and ignores it",
        arguments: [
            (
                "  trafficPolicy:\n    outlierDetection: {consecutiveErrors: 5}",
                "test.yaml:7:24: warning: spec.trafficPolicy.outlierDetection.consecutiveErrors"
            ),
            (
                "  trafficPolicy:\n    loadBalancer: {simple: RANDOM, zoneAwareLbSetting: {}}",
                "test.yaml:7:36: warning: spec.trafficPolicy.loadBalancer.zoneAwareLbSetting"
            ),
            (
                "  trafficPolicy:\n    loadBalancer: {consistentHash: {useSourceIp: true, ringHash: {minimumRingSize: 1024}}}",
                "test.yaml:7:56: warning: spec.trafficPolicy.loadBalancer.consistentHash.ringHash"
            ),
        ]
    )
    func unsupported(rest: String, message: String) {
        let (rule, messages) = Self.decoded(rest)
        #expect(rule != nil)
        #expect(messages == [message + " is not supported by Serin's gateway, ignored"])
    }

    @Test(
        "decodes loadBalancer: simple, or consistentHash on a header, a cookie, the client's address or a query parameter; a subset's replaces its rule's",
        arguments: [
            ("{simple: RANDOM}", LoadBalancerSettings(simple: .random)),
            ("{simple: LEAST_REQUEST}", LoadBalancerSettings(simple: .leastRequest)),
            ("{consistentHash: {httpHeaderName: X-User}}", LoadBalancerSettings(consistentHash: .header("x-user"))),
            (
                "{consistentHash: {httpCookie: {name: affinity, path: /shop, ttl: 0s}}}",
                LoadBalancerSettings(consistentHash: .cookie(name: "affinity", path: "/shop", ttl: .zero))
            ),
            ("{consistentHash: {httpCookie: {name: affinity}}}", LoadBalancerSettings(consistentHash: .cookie(name: "affinity", path: nil, ttl: nil))),
            (
                "{consistentHash: {httpCookie: {name: affinity, ttl: 1h, attributes: [{name: SameSite, value: Strict}, {name: Secure}]}}}",
                LoadBalancerSettings(consistentHash: .cookie(
                    name: "affinity", path: nil, ttl: .seconds(3600),
                    attributes: [.init(name: "SameSite", value: "Strict"), .init(name: "Secure")]
                ))
            ),
            ("{consistentHash: {useSourceIp: true}}", LoadBalancerSettings(consistentHash: .sourceIP)),
            ("{consistentHash: {httpQueryParameterName: user}}", LoadBalancerSettings(consistentHash: .queryParameter("user"))),
            ("{localityLbSetting: {enabled: false}}", LoadBalancerSettings(locality: LocalityLoadBalancing(enabled: false))),
            ("{warmupDurationSecs: 60s}", LoadBalancerSettings(warmup: .init(duration: .seconds(60)))),
            (
                "{simple: ROUND_ROBIN, warmup: {duration: 2m, minimumPercent: 5, aggression: 1.5}}",
                LoadBalancerSettings(simple: .roundRobin, warmup: .init(duration: .seconds(120), minimumPercent: 5, aggression: 1.5))
            ),
            (
                "{localityLbSetting: {distribute: [{from: us-east1/*, to: {us-east1/a: 80, \"*\": 20}}]}}",
                LoadBalancerSettings(locality: LocalityLoadBalancing(distribute: [
                    .init(from: "us-east1/*", to: [.init(locality: "us-east1/a", weight: 80), .init(locality: "*", weight: 20)])
                ]))
            ),
            (
                "{localityLbSetting: {failoverPriority: [topology.kubernetes.io/region, track=stable]}}",
                LoadBalancerSettings(locality: LocalityLoadBalancing(failoverPriority: ["topology.kubernetes.io/region", "track=stable"]))
            ),
            (
                "{simple: RANDOM, localityLbSetting: {failover: [{from: us-east1, to: eu-west1}]}}",
                LoadBalancerSettings(simple: .random, locality: LocalityLoadBalancing(failover: [.init(from: "us-east1", to: "eu-west1")]))
            ),
        ]
    )
    func loadBalancer(policy: String, expected: LoadBalancerSettings) throws {
        let (rule, messages) = Self.decoded(
            "  trafficPolicy:\n    loadBalancer: \(policy)\n  subsets:\n  - name: v1\n    labels: {version: v1}\n"
                + "    trafficPolicy: {outlierDetection: {consecutive5xxErrors: 2}}\n  - name: v2\n    labels: {version: v2}\n"
                + "    trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}"
        )
        #expect(messages.isEmpty, "\(messages)")
        let decoded = try #require(rule)
        #expect(decoded.trafficPolicy.loadBalancer == expected)
        let subsets = decoded.subsets.map { $0.trafficPolicy.merged(over: decoded.trafficPolicy).loadBalancer }
        #expect(subsets == [expected, LoadBalancerSettings(simple: .roundRobin)], "a subset without its own keeps the rule's")
    }

    @Test("warmup beside RANDOM or consistentHash is warned about and dropped, as Envoy's slow start serves neither; warmupDurationSecs beside warmup is ignored")
    func warmupWarnings() {
        let (random, randomMessages) = Self.decoded("  trafficPolicy:\n    loadBalancer: {simple: RANDOM, warmup: {duration: 60s}}")
        #expect(randomMessages == [
            "test.yaml:7:44: warning: spec.trafficPolicy.loadBalancer.warmup applies to ROUND_ROBIN and LEAST_REQUEST only, as in Envoy: ignored beside RANDOM"
        ])
        #expect(random?.trafficPolicy.loadBalancer == LoadBalancerSettings(simple: .random))
        let (both, bothMessages) = Self.decoded("  trafficPolicy:\n    loadBalancer: {warmup: {duration: 60s}, warmupDurationSecs: 10s}")
        #expect(bothMessages == ["test.yaml:7:65: warning: spec.trafficPolicy.loadBalancer.warmupDurationSecs is ignored: warmup is set, and Istio takes it first"])
        #expect(both?.trafficPolicy.loadBalancer?.warmup == .init(duration: .seconds(60)))
    }

    @Test(
        "rejects a loadBalancer Istio rejects, or one the gateway cannot serve, at the field",
        arguments: [
            (
                "{simple: FASTEST}",
                "test.yaml:7:28: error: spec.trafficPolicy.loadBalancer.simple is \"FASTEST\", expected one of ROUND_ROBIN, "
                    + "LEAST_REQUEST, RANDOM, UNSPECIFIED, PASSTHROUGH"
            ),
            (
                "{simple: RANDOM, consistentHash: {useSourceIp: true}}",
                "test.yaml:7:52: error: spec.trafficPolicy.loadBalancer: set one of simple or consistentHash, not both"
            ),
            (
                "{localityLbSetting: {failover: [{from: us-east1/a, to: eu-west1}]}}",
                "test.yaml:7:58: error: spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0].from is \"us-east1/a\", expected a "
                    + "region (no zone), the from side of the failover"
            ),
            (
                "{localityLbSetting: {distribute: [{from: us-east1/*, to: {us-east1/a: 80, eu-west1/a: 30}}]}}",
                "test.yaml:7:76: error: spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to: the weights add to 110, expected 100"
            ),
            (
                "{localityLbSetting: {distribute: [{from: \"*\", to: {\"*\": 100}}], failover: [{from: us-east1, to: eu-west1}]}}",
                "test.yaml:7:93: error: spec.trafficPolicy.loadBalancer.localityLbSetting: set one of distribute or failover, not both (Istio applies one)"
            ),
            (
                "{warmup: {duration: 60s, minimumPercent: 120}}",
                "test.yaml:7:60: error: spec.trafficPolicy.loadBalancer.warmup.minimumPercent is 120.0, expected 0 to 100"
            ),
            (
                "{warmup: {duration: 60s, aggression: 0.5}}",
                "test.yaml:7:56: error: spec.trafficPolicy.loadBalancer.warmup.aggression is 0.5, expected 1 or more (1: a linear ramp)"
            ),
            (
                "{localityLbSetting: {failover: [{from: us-east1, to: us-east1}]}}",
                "test.yaml:7:51: error: spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0]: from and to are both us-east1; "
                    + "a region fails over to another"
            ),
            (
                "{consistentHash: {}}",
                "test.yaml:7:36: error: spec.trafficPolicy.loadBalancer.consistentHash: expected one of httpHeaderName, httpCookie, "
                    + "useSourceIp, httpQueryParameterName, got none"
            ),
            (
                "{consistentHash: {httpHeaderName: x-user, useSourceIp: true}}",
                "test.yaml:7:36: error: spec.trafficPolicy.loadBalancer.consistentHash: expected one of httpHeaderName, httpCookie, "
                    + "useSourceIp, httpQueryParameterName, got httpHeaderName and useSourceIp"
            ),
            (
                "{consistentHash: {httpCookie: {path: /}}}",
                "test.yaml:7:49: error: spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.name is required"
            ),
            (
                "{consistentHash: {useSourceIp: false}}",
                "test.yaml:7:50: error: spec.trafficPolicy.loadBalancer.consistentHash.useSourceIp is false, which names no key: "
                    + "set it true, or hash on another key"
            ),
            (
                "{consistentHash: {httpCookie: {name: a, attributes: [{name: Secure}, {name: Secure, value: x}]}}}",
                "test.yaml:7:88: error: spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.attributes[1].name: \"Secure\" is "
                    + "given twice (Istio refuses a duplicate)"
            ),
            (
                "{consistentHash: {httpCookie: {name: a, attributes: [{value: Lax}]}}}",
                "test.yaml:7:72: error: spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.attributes[0].name is required"
            ),
            (
                "{consistentHash: {httpCookie: {name: a, attributes: [{name: SameSite, value: \"Lax; Domain=evil\"}]}}}",
                "test.yaml:7:96: error: spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.attributes[0].value: \"Lax; "
                    + "Domain=evil\" holds a ';' or a control character, which would end the cookie's attribute"
            ),
            (
                "{simple: PASSTHROUGH}",
                "test.yaml:7:28: error: spec.trafficPolicy.loadBalancer.simple: PASSTHROUGH sends each request to the address its "
                    + "client connected to, which the embedded gateway, routing by endpoints, cannot know"
            ),
        ]
    )
    func loadBalancerRefused(policy: String, message: String) {
        let (_, messages) = Self.decoded("  trafficPolicy:\n    loadBalancer: \(policy)")
        #expect(messages == [message])
    }

    @Test(
        "rejects invalid traffic policies at the field, as Istio does",
        arguments: [
            ("  trafficPolicy: {}", "test.yaml:6:18: error: spec.trafficPolicy: expected at least one policy"),
            ("  trafficPolicy:\n    connectionPool: {}", "test.yaml:7:21: error: spec.trafficPolicy.connectionPool: expected tcp, http or both"),
            (
                "  trafficPolicy:\n    connectionPool:\n      tcp: {maxConnections: -1}",
                "test.yaml:8:29: error: spec.trafficPolicy.connectionPool.tcp.maxConnections: expected 0 or more, got -1"
            ),
            (
                "  trafficPolicy:\n    connectionPool:\n      tcp: {connectTimeout: 0s}",
                "test.yaml:8:29: error: spec.trafficPolicy.connectionPool.tcp.connectTimeout: expected a duration of at least 1ms, "
                    + "got \"0s\""
            ),
            (
                "  trafficPolicy:\n    connectionPool:\n      tcp: {tcpKeepalive: {time: 500ms}}",
                "test.yaml:8:34: error: spec.trafficPolicy.connectionPool.tcp.tcpKeepalive.time: expected at least 1s (the kernel counts "
                    + "keepalive in whole seconds), got \"500ms\""
            ),
            (
                "  trafficPolicy:\n    connectionPool:\n      tcp: {maxConnectionDuration: 0s}",
                "test.yaml:8:36: error: spec.trafficPolicy.connectionPool.tcp.maxConnectionDuration: expected a duration of at least "
                    + "1ms, got \"0s\""
            ),
            (
                "  trafficPolicy:\n    connectionPool:\n      tcp: {idleTimeout: soon}",
                "test.yaml:8:26: error: spec.trafficPolicy.connectionPool.tcp.idleTimeout: expected a duration like 500ms, 0.5s or 1m, "
                    + "got \"soon\""
            ),
            (
                "  trafficPolicy:\n    connectionPool:\n      http: {http1MaxPendingRequests: -5}",
                "test.yaml:8:39: error: spec.trafficPolicy.connectionPool.http.http1MaxPendingRequests: expected 0 or more, got -5"
            ),
            (
                "  trafficPolicy:\n    connectionPool:\n      http: {maxRetries: -2}",
                "test.yaml:8:26: error: spec.trafficPolicy.connectionPool.http.maxRetries: expected 0 or more, got -2"
            ),
            (
                "  trafficPolicy:\n    connectionPool:\n      http: {http2MaxRequests: -1}",
                "test.yaml:8:32: error: spec.trafficPolicy.connectionPool.http.http2MaxRequests: expected 0 or more, got -1"
            ),
            (
                "  trafficPolicy:\n    connectionPool:\n      http: {maxConcurrentStreams: -3}",
                "test.yaml:8:36: error: spec.trafficPolicy.connectionPool.http.maxConcurrentStreams: expected 0 or more, got -3"
            ),
            (
                "  trafficPolicy:\n    connectionPool:\n      http: {useClientProtocol: 1}",
                "test.yaml:8:33: error: spec.trafficPolicy.connectionPool.http.useClientProtocol: expected a boolean, got integer 1"
            ),
            (
                "  trafficPolicy:\n    connectionPool:\n      http: {idleTimeout: 1}",
                "test.yaml:8:27: error: spec.trafficPolicy.connectionPool.http.idleTimeout: expected a duration like 500ms, 0.5s or 1m, "
                    + "got integer 1"
            ),
            (
                "  trafficPolicy:\n    outlierDetection: {maxEjectionPercent: 101}",
                "test.yaml:7:44: error: spec.trafficPolicy.outlierDetection.maxEjectionPercent: expected a percentage from 0 to 100, "
                    + "got 101"
            ),
            (
                "  trafficPolicy:\n    outlierDetection: {consecutive5xxErrors: -1}",
                "test.yaml:7:46: error: spec.trafficPolicy.outlierDetection.consecutive5xxErrors: expected 0 or more, got -1"
            ),
            (
                "  trafficPolicy:\n    outlierDetection: {interval: 0ms}",
                "test.yaml:7:34: error: spec.trafficPolicy.outlierDetection.interval: expected a duration of at least 1ms, got \"0ms\""
            ),
            (
                "  trafficPolicy:\n    outlierDetection: {baseEjectionTime: soon}",
                "test.yaml:7:42: error: spec.trafficPolicy.outlierDetection.baseEjectionTime: expected a duration like 500ms, 0.5s or 1m, "
                    + "got \"soon\""
            ),
            (
                "  trafficPolicy:\n    retryBudget: {percent: 101}",
                "test.yaml:7:28: error: spec.trafficPolicy.retryBudget.percent: expected a percentage from 0 to 100, got 101"
            ),
            (
                "  trafficPolicy:\n    proxyProtocol: {version: V3}",
                "test.yaml:7:30: error: spec.trafficPolicy.proxyProtocol.version: expected one of V1, V2, got \"V3\""
            ),
            (
                "  trafficPolicy:\n    tunnel: {targetHost: egress.example.com, targetPort: 8443, protocol: POST}",
                "test.yaml:7:74: error: spec.trafficPolicy.tunnel.protocol: POST tunnels are not supported: the embedded gateway "
                    + "tunnels with CONNECT (leave protocol out, or write CONNECT)"
            ),
            (
                "  trafficPolicy:\n    tunnel: {targetHost: egress.example.com, targetPort: 8443, protocol: connect}",
                "test.yaml:7:74: error: spec.trafficPolicy.tunnel.protocol: expected CONNECT or POST, got \"connect\""
            ),
            (
                "  trafficPolicy:\n    tunnel: {targetHost: \"bad host\", targetPort: 8443}",
                "test.yaml:7:26: error: spec.trafficPolicy.tunnel.targetHost: expected a host name or an IP address, got \"bad host\""
            ),
            (
                "  trafficPolicy:\n    tunnel: {targetHost: egress.example.com, targetPort: 70000}",
                "test.yaml:7:58: error: spec.trafficPolicy.tunnel.targetPort: expected a port from 1 to 65535, got 70000"
            ),
            (
                "  trafficPolicy:\n    tunnel: {targetHost: egress.example.com}",
                "test.yaml:7:13: error: spec.trafficPolicy.tunnel.targetPort is required"
            ),
            (
                "  trafficPolicy:\n    retryBudget: {percent: {value: 10}}",
                "test.yaml:7:28: error: spec.trafficPolicy.retryBudget.percent: expected a number, got a mapping"
            ),
            (
                "  trafficPolicy:\n    retryBudget: {percent: twenty}",
                "test.yaml:7:28: error: spec.trafficPolicy.retryBudget.percent: expected a number, got string \"twenty\""
            ),
            (
                "  trafficPolicy:\n    retryBudget: {minRetryConcurrency: -1}",
                "test.yaml:7:40: error: spec.trafficPolicy.retryBudget.minRetryConcurrency: expected 0 or more, got -1"
            ),
            (
                "  subsets:\n  - name: v1\n    trafficPolicy:\n      outlierDetection: {consecutiveGatewayErrors: -2}",
                "test.yaml:9:52: error: spec.subsets[0].trafficPolicy.outlierDetection.consecutiveGatewayErrors: expected 0 or more, "
                    + "got -2"
            ),
        ]
    )
    func invalid(rest: String, message: String) {
        let (rule, messages) = Self.decoded(rest)
        #expect(rule == nil)
        #expect(messages == [message])
    }

    @Test("retryBudget's budgetInterval is warned about and ignored: the budget counts the requests in flight now")
    func retryBudgetInterval() {
        let (rule, messages) = Self.decoded("  trafficPolicy:\n    retryBudget: {percent: 30, budgetInterval: 10s}")
        #expect(rule?.trafficPolicy == TrafficPolicy(retryBudget: RetryBudget(percent: 30)))
        #expect(messages == ["test.yaml:7:32: warning: spec.trafficPolicy.retryBudget.budgetInterval is not supported by Serin's gateway, ignored"])
    }

    @Test("useClientProtocol beside tls is decoded, with a warning that ALPN still follows the port's protocol")
    func clientProtocolWithTLS() {
        let rest = "  trafficPolicy:\n    connectionPool: {http: {useClientProtocol: true}}\n    tls: {mode: SIMPLE}"
        let (rule, messages) = Self.decoded(rest)
        #expect(rule?.trafficPolicy.connectionPool?.http.usesClientProtocol == true)
        #expect(messages.count == 1)
        #expect(messages.first?.hasPrefix("test.yaml:8:10: warning: spec.trafficPolicy.tls: with connectionPool.http.useClientProtocol") == true, "\(messages)")
    }

    @Test("tunnel beside proxyProtocol is an error, as Istio's validation says; a subset's tunnel goes over its rule's, and a target in IPv6 is bracketed")
    func tunnelWithProxyProtocol() {
        let (rule, messages) = Self.decoded("  trafficPolicy:\n    tunnel: {targetHost: egress.example.com, targetPort: 8443}\n    proxyProtocol: {}")
        #expect(rule == nil)
        #expect(messages == ["test.yaml:8:20: error: spec.trafficPolicy.proxyProtocol: tunnel and proxyProtocol must not be set together"])
        let ruleTunnel = TrafficPolicy(tunnel: TunnelSettings(targetHost: "egress.example.com", targetPort: 8443))
        let subsetTunnel = TrafficPolicy(tunnel: TunnelSettings(targetHost: "fd00::7", targetPort: 443))
        #expect(subsetTunnel.merged(over: ruleTunnel).tunnel?.authority == "[fd00::7]:443")
        #expect(TrafficPolicy().merged(over: ruleTunnel).tunnel?.authority == "egress.example.com:8443")
    }

    @Test("a subset's retryBudget and proxyProtocol go over the rule's, and the rule's stay where the subset sets none, its port entry included")
    func mergeBudgetAndProxyProtocol() {
        let rule = TrafficPolicy(retryBudget: RetryBudget(percent: 30), proxyProtocol: .v1)
        let subset = TrafficPolicy(proxyProtocol: .v2)
        #expect(subset.merged(over: rule) == TrafficPolicy(retryBudget: RetryBudget(percent: 30), proxyProtocol: .v2))
        let portEntry = TrafficPolicy(loadBalancer: LoadBalancerSettings(simple: .random))
        #expect(portEntry.merged(over: rule, portLevel: true) == TrafficPolicy(
            loadBalancer: LoadBalancerSettings(simple: .random), retryBudget: RetryBudget(percent: 30), proxyProtocol: .v1
        ))
        let rulePort = TrafficPolicy(proxyProtocol: .v2, portLevelSettings: [.init(port: 80, policy: TrafficPolicy(tls: ClientTLS(mode: .simple)))])
        #expect(rulePort.forPort(80).policy.proxyProtocol == nil, "a port's entry does not take the rule's proxyProtocol, as Istio copies only its four sections")
        #expect(rulePort.forPort(81).policy.proxyProtocol == .v2)
    }

    @Test("a subset's section replaces the rule's whole section; the sections it leaves out are the rule's")
    func merge() {
        let top = TrafficPolicy(
            connectionPool: ConnectionPoolSettings(tcp: .init(maxConnections: 100), http: .init(http1MaxPendingRequests: 10)),
            outlierDetection: OutlierDetection(consecutive5xxErrors: 3)
        )
        let subset = TrafficPolicy(connectionPool: ConnectionPoolSettings(http: .init(idleTimeout: .seconds(5))))
        let merged = subset.merged(over: top)
        #expect(merged.connectionPool == ConnectionPoolSettings(http: .init(idleTimeout: .seconds(5))))
        #expect(merged.outlierDetection == OutlierDetection(consecutive5xxErrors: 3))
        #expect(TrafficPolicy().merged(over: top) == top)
        #expect(top.merged(over: TrafficPolicy()) == top)
    }

    @Test("decodes portLevelSettings: each port's sections, with the same names and checks as the rule's own, on the rule and on a subset")
    func portLevelSettings() throws {
        let rest = """
              trafficPolicy:
                connectionPool: {tcp: {maxConnections: 7}}
                portLevelSettings:
                - port: {number: 443}
                  tls: {mode: SIMPLE, sni: api.example.com}
                  loadBalancer: {simple: RANDOM}
                - port: {number: 9080}
                  outlierDetection: {consecutive5xxErrors: 2}
              subsets:
              - name: v2
                labels: {version: v2}
                trafficPolicy:
                  portLevelSettings:
                  - port: {number: 9080}
                    connectionPool: {http: {maxRequestsPerConnection: 1}}
            """
        let (rule, messages) = Self.decoded(rest)
        #expect(messages.isEmpty, "\(messages)")
        let decoded = try #require(rule)
        #expect(decoded.trafficPolicy.connectionPool == ConnectionPoolSettings(tcp: .init(maxConnections: 7)))
        #expect(decoded.trafficPolicy.portLevelSettings == [
            .init(port: 443, policy: TrafficPolicy(tls: ClientTLS(mode: .simple, sni: "api.example.com"), loadBalancer: LoadBalancerSettings(simple: .random))),
            .init(port: 9080, policy: TrafficPolicy(outlierDetection: OutlierDetection(consecutive5xxErrors: 2))),
        ])
        #expect(decoded.subsets.first?.trafficPolicy == TrafficPolicy(portLevelSettings: [
            .init(port: 9080, policy: TrafficPolicy(connectionPool: ConnectionPoolSettings(http: .init(maxRequestsPerConnection: 1)))),
        ]))
        // For its port an entry is the whole policy; for another port the rule's own sections are.
        #expect(decoded.trafficPolicy.forPort(9080) == (TrafficPolicy(outlierDetection: OutlierDetection(consecutive5xxErrors: 2)), true))
        #expect(decoded.trafficPolicy.forPort(80) == (TrafficPolicy(connectionPool: ConnectionPoolSettings(tcp: .init(maxConnections: 7))), false))
        #expect(decoded.trafficPolicy.forPort(nil).portLevel == false)
    }

    @Test(
        "rejects a portLevelSettings entry Istio rejects, at the field; a second entry for a port is warned about, as only the first applies",
        arguments: [
            (
                "- {tls: {mode: SIMPLE}}",
                "test.yaml:8:7: error: spec.trafficPolicy.portLevelSettings[0].port is required"
            ),
            (
                "- {port: {number: 70000}, tls: {mode: SIMPLE}}",
                "test.yaml:8:23: error: spec.trafficPolicy.portLevelSettings[0].port.number: expected a port from 1 to 65535, got 70000"
            ),
            (
                "- {port: {}, tls: {mode: SIMPLE}}",
                "test.yaml:8:14: error: spec.trafficPolicy.portLevelSettings[0].port.number is required"
            ),
            (
                "- port: {number: 443}",
                "test.yaml:8:7: error: spec.trafficPolicy.portLevelSettings[0]: expected at least one of connectionPool, loadBalancer, "
                    + "outlierDetection, tls for port 443"
            ),
            (
                "- {port: {number: 443}, tls: {mode: ISTIO_MUTUAL}}",
                "test.yaml:8:41: error: spec.trafficPolicy.portLevelSettings[0].tls.mode: mode ISTIO_MUTUAL is not supported"
            ),
            (
                "- {port: {number: 443}, tls: {mode: SIMPLE}}\n    - {port: {number: 443}, loadBalancer: {simple: RANDOM}}",
                "test.yaml:9:7: warning: spec.trafficPolicy.portLevelSettings[1]: port 443 has an earlier entry in portLevelSettings; "
                    + "as in Istio, only the first applies"
            ),
        ]
    )
    func portLevelSettingsRefused(entries: String, message: String) {
        let (rule, messages) = Self.decoded("  trafficPolicy:\n    portLevelSettings:\n    \(entries)")
        #expect(messages.count == 1, "\(messages)")
        #expect(messages.first?.hasPrefix(message) == true, "\(messages)")
        if message.contains("warning:") {
            #expect(rule?.trafficPolicy.forPort(443).policy == TrafficPolicy(tls: ClientTLS(mode: .simple)), "the first entry applies")
        }
    }

    @Test("decodes connectionPool.tcp's keepalive (in whole seconds), maxConnectionDuration and idleTimeout, 0s meaning none")
    func tcpSettings() {
        let rest = "  trafficPolicy:\n    connectionPool:\n      tcp:\n        tcpKeepalive: {time: 30s, interval: 2.5s, probes: 3}\n"
            + "        maxConnectionDuration: 10m\n        idleTimeout: 0s"
        let (rule, messages) = Self.decoded(rest)
        #expect(messages.isEmpty, "\(messages)")
        #expect(rule?.trafficPolicy.connectionPool?.tcp == ConnectionPoolSettings.TCPSettings(
            tcpKeepalive: .init(probes: 3, time: .seconds(30), interval: .seconds(2)), maxConnectionDuration: .seconds(600),
            idleTimeout: .zero
        ))
        let (keepalive, _) = Self.decoded("  trafficPolicy:\n    connectionPool:\n      tcp: {tcpKeepalive: {}}")
        #expect(keepalive?.trafficPolicy.connectionPool?.tcp.tcpKeepalive == .init(), "an empty tcpKeepalive turns keepalive on with the system's values")
    }

    @Test("decodes splitExternalLocalOriginErrors and consecutiveLocalOriginFailures (default 5, 0 keeps it); the count alone is warned, as it does nothing")
    func localOriginSplit() {
        let (rule, messages) = Self.decoded("  trafficPolicy:\n    outlierDetection: {splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 3}")
        #expect(messages.isEmpty, "\(messages)")
        #expect(rule?.trafficPolicy.outlierDetection == OutlierDetection(splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 3))
        let (zero, _) = Self.decoded("  trafficPolicy:\n    outlierDetection: {splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 0}")
        #expect(zero?.trafficPolicy.outlierDetection?.consecutiveLocalOriginFailures == 5)
        let (alone, warned) = Self.decoded("  trafficPolicy:\n    outlierDetection: {consecutiveLocalOriginFailures: 3}")
        #expect(alone?.trafficPolicy.outlierDetection?.splitExternalLocalOriginErrors == false)
        #expect(warned == [
            "test.yaml:7:56: warning: spec.trafficPolicy.outlierDetection.consecutiveLocalOriginFailures takes effect only with "
                + "splitExternalLocalOriginErrors: true"
        ])
    }
}
