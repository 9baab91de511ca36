import SerinCore
import SerinManifests
import Testing

@Suite("HTTP route policy decoding")
struct HTTPRoutePolicyDecodingTests {
    static let apiVersions = ["networking.istio.io/v1alpha3", "networking.istio.io/v1beta1", "networking.istio.io/v1"]

    /// A VirtualService whose `http` list is `http`, its first line on line 8.
    private static func virtualService(_ http: String, apiVersion: String = "networking.istio.io/v1") -> String {
        """
        apiVersion: \(apiVersion)
        kind: VirtualService
        metadata: {name: vs}
        spec:
          hosts: ["*"]
          gateways: [web-gateway]
          http:
        \(http)
        """
    }

    private static func decoded(_ http: String, apiVersion: String = "networking.istio.io/v1") -> (HTTPRoute?, [String]) {
        let (resources, diagnostics) = Fixture.decode(virtualService(http, apiVersion: apiVersion))
        guard case .virtualService(let value)? = resources.first?.resource else { return (nil, Fixture.messages(diagnostics)) }
        return (value.http.first, Fixture.messages(diagnostics))
    }

    /// A route to `a` with `policy` (lines indented as fields of the http entry) after it; `policy` starts on line 10.
    private static func routeToA(_ policy: String) -> String {
        "  - route:\n    - destination: {host: a}\n\(policy)"
    }

    private static let toA = [WeightedDestination(destination: Destination(host: "a"), weight: 100)]

    @Test("decodes every forwarding policy of a route, in each Istio API version", arguments: apiVersions)
    func everyPolicy(apiVersion: String) {
        let http = """
              - name: api
                match:
                - uri: {prefix: /api}
                route:
                - destination: {host: web-v1-service, port: {number: 80}}
                timeout: 10s
                retries:
                  attempts: 3
                  perTryTimeout: 2s
                  retryOn: gateway-error,connect-failure,refused-stream
                fault:
                  delay:
                    fixedDelay: 5s
                    percentage: {value: 12.5}
                  abort:
                    httpStatus: 503
                    percentage: {value: 1}
                headers:
                  request:
                    set: {X-Canary: "true"}
                    add: {x-trace: serin}
                    remove: [X-Debug]
                  response:
                    remove: [server]
                rewrite:
                  uri: /v2/api
                  authority: api.internal
                mirror:
                  host: web-v2-service
                  subset: v2
                  port: {number: 80}
                mirrorPercentage: {value: 25}
            """
        let (route, messages) = Self.decoded(http, apiVersion: apiVersion)
        #expect(messages.isEmpty, "\(messages)")
        let expected = HTTPRoute(
            name: "api", matches: [RequestMatch(uri: .prefix("/api"))],
            destinations: [WeightedDestination(destination: Destination(host: "web-v1-service", port: 80), weight: 100)],
            timeout: .seconds(10),
            retries: HTTPRetry(
                attempts: 3, perTryTimeout: .seconds(2), retryOn: [.gatewayError, .connectFailure, .refusedStream],
                retriableStatusCodes: []
            ),
            fault: HTTPFaultInjection(
                delay: .init(fixedDelay: .seconds(5), percentage: Percent(12.5)),
                abort: .init(httpStatus: 503, percentage: Percent(1))
            ),
            headers: RouteHeaders(
                request: HeaderOperations(set: ["x-canary": "true"], add: ["x-trace": "serin"], remove: ["x-debug"]),
                response: HeaderOperations(remove: ["server"])
            ),
            rewrite: HTTPRewrite(uri: "/v2/api", authority: "api.internal"),
            mirror: HTTPMirrorPolicy(destination: Destination(host: "web-v2-service", subset: "v2", port: 80), percentage: Percent(25))
        )
        #expect(route == expected)
    }

    @Test("decodes redirects and direct responses, which stand in for route, in each Istio API version", arguments: apiVersions)
    func answers(apiVersion: String) {
        let http = """
              - match:
                - uri: {exact: /old}
                redirect:
                  uri: /new
                  authority: shop.example.com
                  scheme: https
                  port: 8443
                  redirectCode: 308
              - match:
                - uri: {exact: /plain}
                redirect: {scheme: http, derivePort: FROM_PROTOCOL_DEFAULT}
              - match:
                - uri: {exact: /down}
                directResponse:
                  status: 503
                  body: {string: down for maintenance}
              - directResponse:
                  status: 200
                  body: {bytes: aGVsbG8=}
              - directResponse: {status: 204}
            """
        let (resources, diagnostics) = Fixture.decode(Self.virtualService(http, apiVersion: apiVersion))
        #expect(diagnostics.isEmpty, "\(Fixture.messages(diagnostics))")
        guard case .virtualService(let virtualService)? = resources.first?.resource else {
            Issue.record("no VirtualService decoded")
            return
        }
        #expect(virtualService.http.map(\.destinations) == [[], [], [], [], []])
        #expect(virtualService.http.map(\.redirect) == [
            HTTPRedirect(uri: "/new", authority: "shop.example.com", scheme: .https, port: 8443, redirectCode: 308),
            HTTPRedirect(scheme: .http, derivePort: .fromProtocolDefault, redirectCode: 301),
            nil, nil, nil,
        ])
        #expect(virtualService.http.map(\.directResponse) == [
            nil, nil,
            HTTPDirectResponse(status: 503, body: .string("down for maintenance")),
            HTTPDirectResponse(status: 200, body: .bytes(Array("hello".utf8))),
            HTTPDirectResponse(status: 204),
        ])
        #expect(virtualService.http[3].directResponse?.body?.contents == Array("hello".utf8))
    }

    @Test(
        "takes Istio's defaults for what a policy leaves out",
        arguments: [
            // Without retryOn: Istio's default, reduced to what the gateway supports.
            (
                "    retries: {attempts: 2}",
                HTTPRoute(
                    destinations: toA,
                    retries: HTTPRetry(attempts: 2, retryOn: [.connectFailure, .refusedStream, .unavailable, .cancelled], retriableStatusCodes: [503])
                )
            ),
            // Statuses in retryOn are retried as written; retriable-status-codes only says so; spaces are trimmed.
            (
                "    retries: {attempts: 1, retryOn: \"5xx, 503,retriable-status-codes,gateway-error,5xx\"}",
                HTTPRoute(destinations: toA, retries: HTTPRetry(attempts: 1, retryOn: [.serverError, .gatewayError], retriableStatusCodes: [503]))
            ),
            (
                "    retries: {attempts: 1, retryOn: \"500,502\"}",
                HTTPRoute(destinations: toA, retries: HTTPRetry(attempts: 1, retryOn: [], retriableStatusCodes: [500, 502]))
            ),
            // attempts 0 is Istio's way to turn retries off, even the default ones.
            ("    retries: {attempts: 0}", HTTPRoute(destinations: toA, retries: HTTPRetry(attempts: 0))),
            ("    retries: {attempts: 3, backoff: 100ms}", HTTPRoute(destinations: toA, retries: HTTPRetry(attempts: 3, backoff: .milliseconds(100)))),
            (
                "    retries: {attempts: 2, retryIgnorePreviousHosts: false}",
                HTTPRoute(destinations: toA, retries: HTTPRetry(attempts: 2, ignorePreviousHosts: false))
            ),
            (
                "    retries: {attempts: 2, retryIgnorePreviousHosts: true}",
                HTTPRoute(destinations: toA, retries: HTTPRetry(attempts: 2, ignorePreviousHosts: true))
            ),
            ("    retries: {}", HTTPRoute(destinations: toA, retries: HTTPRetry(attempts: 0))),
            (
                "    mirror: {host: b}",
                HTTPRoute(destinations: toA, mirror: HTTPMirrorPolicy(destination: Destination(host: "b"), percentage: .all))
            ),
            (
                "    mirror: {host: b}\n    mirrorPercentage: {value: 0.5}",
                HTTPRoute(destinations: toA, mirror: HTTPMirrorPolicy(destination: Destination(host: "b"), percentage: Percent(0.5)))
            ),
            (
                "    fault: {abort: {httpStatus: 500, percentage: {}}}",
                HTTPRoute(destinations: toA, fault: HTTPFaultInjection(abort: .init(httpStatus: 500, percentage: .none)))
            ),
            (
                "    fault: {abort: {grpcStatus: UNAVAILABLE, percentage: {value: 5}}}",
                HTTPRoute(destinations: toA, fault: HTTPFaultInjection(abort: .init(grpcStatus: 14, percentage: Percent(5))))
            ),
            ("    headers: {}", HTTPRoute(destinations: toA, headers: RouteHeaders())),
            ("    rewrite: {authority: b}", HTTPRoute(destinations: toA, rewrite: HTTPRewrite(authority: "b"))),
            ("    timeout: 1m30s", HTTPRoute(destinations: toA, timeout: .seconds(90))),
            // Istio's examples write decimals; they are read down to whole milliseconds.
            ("    timeout: 0.5s", HTTPRoute(destinations: toA, timeout: .milliseconds(500))),
            ("    timeout: 1.25m", HTTPRoute(destinations: toA, timeout: .seconds(75))),
            (
                "    retries: {attempts: 1, perTryTimeout: 0.025s}",
                HTTPRoute(destinations: toA, retries: HTTPRetry(attempts: 1, perTryTimeout: .milliseconds(25)))
            ),
        ]
    )
    func defaults(policy: String, expected: HTTPRoute) {
        let (route, messages) = Self.decoded(Self.routeToA(policy))
        #expect(messages.isEmpty, "\(messages)")
        #expect(route == expected)
    }

    @Test(
        "warns where a policy is written but does nothing, or uses what the gateway does not support",
        arguments: [
            (
                "    fault: {delay: {fixedDelay: 1s}}",
                HTTPRoute(destinations: toA, fault: HTTPFaultInjection(delay: .init(fixedDelay: .seconds(1), percentage: .none))),
                ["test.yaml:10:20: warning: spec.http[0].fault.delay.percentage is not set, so no request is delayed (Istio's default)"]
            ),
            (
                "    fault: {abort: {httpStatus: 500}}",
                HTTPRoute(destinations: toA, fault: HTTPFaultInjection(abort: .init(httpStatus: 500, percentage: .none))),
                ["test.yaml:10:20: warning: spec.http[0].fault.abort.percentage is not set, so no request is aborted (Istio's default)"]
            ),
            (
                "    fault: {delay: {fixedDelay: 1s, percent: 20}}",
                HTTPRoute(destinations: toA, fault: HTTPFaultInjection(delay: .init(fixedDelay: .seconds(1), percentage: Percent(20)))),
                ["test.yaml:10:46: warning: spec.http[0].fault.delay.percent is deprecated: use percentage: {value: N}"]
            ),
            (
                "    fault: {delay: {fixedDelay: 1s, percent: 20, percentage: {value: 30}}}",
                HTTPRoute(destinations: toA, fault: HTTPFaultInjection(delay: .init(fixedDelay: .seconds(1), percentage: Percent(30)))),
                ["test.yaml:10:46: warning: spec.http[0].fault.delay.percent is ignored: percentage is set"]
            ),
            (
                "    fault: {abort: {http2Error: REFUSED_STREAM, percentage: {value: 5}}}",
                HTTPRoute(destinations: toA, fault: HTTPFaultInjection()),
                [
                    "test.yaml:10:21: warning: spec.http[0].fault.abort.http2Error is not supported by Serin's gateway, ignored",
                    "test.yaml:10:20: warning: spec.http[0].fault.abort.httpStatus is not set, so no request is aborted",
                ]
            ),
            (
                "    retries: {attempts: 2, retryOn: \"5xx,unavailable,retriable-4xx,envoy-ratelimited\", retryRemoteLocalities: true}",
                HTTPRoute(
                    destinations: toA,
                    retries: HTTPRetry(
                        attempts: 2, retryOn: [.serverError, .unavailable, .retriable4xx], retriableStatusCodes: [], retryRemoteLocalities: true
                    )
                ),
                [
                    "test.yaml:10:37: warning: spec.http[0].retries.retryOn: envoy-ratelimited is not supported by Serin's gateway, ignored "
                        + "(it retries on 5xx, gateway-error, retriable-4xx, connect-failure, refused-stream, reset, cancelled, "
                        + "deadline-exceeded, resource-exhausted, internal, unavailable and HTTP statuses)",
                ]
            ),
            (
                "    mirror: {host: b}\n    mirrorPercent: 30",
                HTTPRoute(destinations: toA, mirror: HTTPMirrorPolicy(destination: Destination(host: "b"), percentage: Percent(30))),
                ["test.yaml:11:20: warning: spec.http[0].mirrorPercent is deprecated: use mirrorPercentage: {value: N}"]
            ),
            (
                "    mirrorPercentage: {value: 30}",
                HTTPRoute(destinations: toA),
                ["test.yaml:10:23: warning: spec.http[0].mirrorPercentage has no effect without mirror"]
            ),
        ]
    )
    func warnings(policy: String, expected: HTTPRoute, messages expectedMessages: [String]) {
        let (route, messages) = Self.decoded(Self.routeToA(policy))
        #expect(messages == expectedMessages)
        #expect(route == expected)
    }

    @Test(
        "rejects invalid policy values at the field, as Istio does",
        arguments: [
            ("    timeout: 0s", "test.yaml:10:14: error: spec.http[0].timeout: expected a duration of at least 1ms, got \"0s\""),
            ("    timeout: 10", "test.yaml:10:14: error: spec.http[0].timeout: expected a duration like 500ms, 0.5s or 1m, got integer 10"),
            (
                "    timeout: 1.5ms",
                "test.yaml:10:14: error: spec.http[0].timeout: expected a duration like 500ms, 0.5s or 1m, got \"1.5ms\""
            ),
            (
                "    timeout: 0.000s",
                "test.yaml:10:14: error: spec.http[0].timeout: expected a duration of at least 1ms, got \"0.000s\""
            ),
            ("    retries: {attempts: -1}", "test.yaml:10:25: error: spec.http[0].retries.attempts: expected 0 or more, got -1"),
            (
                "    retries: {attempts: 2, retryIgnorePreviousHosts: yes please}",
                "test.yaml:10:54: error: spec.http[0].retries.retryIgnorePreviousHosts: expected a boolean, got string \"yes please\""
            ),
            (
                "    retries: {attempts: 2, perTryTimeout: 0ms}",
                "test.yaml:10:43: error: spec.http[0].retries.perTryTimeout: expected a duration of at least 1ms, got \"0ms\""
            ),
            (
                "    retries: {attempts: 0, retryOn: 5xx}",
                "test.yaml:10:25: error: spec.http[0].retries: retryOn needs attempts above 0: attempts 0 disables retries"
            ),
            (
                "    retries: {retryOn: 5xx, perTryTimeout: 1s}",
                "test.yaml:10:14: error: spec.http[0].retries: retryOn and perTryTimeout need attempts above 0: "
                    + "attempts is not set, which disables retries"
            ),
            (
                "    retries: {attempts: 1, retryOn: \"5xx,999\"}",
                "test.yaml:10:37: error: spec.http[0].retries.retryOn: expected HTTP statuses from 100 to 599, got 999"
            ),
            ("    fault: {}", "test.yaml:10:12: error: spec.http[0].fault: expected delay, abort or both"),
            (
                "    fault: {delay: {percentage: {value: 10}}}",
                "test.yaml:10:20: error: spec.http[0].fault.delay.fixedDelay is required"
            ),
            (
                "    fault: {delay: {fixedDelay: 1s, percentage: {value: 100.5}}}",
                "test.yaml:10:57: error: spec.http[0].fault.delay.percentage.value: expected a percentage from 0 to 100, got 100.5"
            ),
            (
                "    fault: {delay: {fixedDelay: 1s, percentage: {value: -1}}}",
                "test.yaml:10:57: error: spec.http[0].fault.delay.percentage.value: expected a percentage from 0 to 100, got -1"
            ),
            (
                "    fault: {delay: {fixedDelay: 1s, percentage: {value: 0.00001}}}",
                "test.yaml:10:57: error: spec.http[0].fault.delay.percentage.value: expected 0 or at least 0.0001 "
                    + "(one request in a million), got 0.00001"
            ),
            (
                "    fault: {delay: {fixedDelay: 1s, percent: 101}}",
                "test.yaml:10:46: error: spec.http[0].fault.delay.percent: expected a percentage from 0 to 100, got 101"
            ),
            (
                "    fault: {abort: {httpStatus: 199, percentage: {value: 1}}}",
                "test.yaml:10:33: error: spec.http[0].fault.abort.httpStatus: expected an HTTP status from 200 to 599, got 199"
            ),
            (
                "    fault: {abort: {httpStatus: 600, percentage: {value: 1}}}",
                "test.yaml:10:33: error: spec.http[0].fault.abort.httpStatus: expected an HTTP status from 200 to 599, got 600"
            ),
            (
                "    fault: {abort: {grpcStatus: \"14\", percentage: {value: 1}}}",
                "test.yaml:10:33: error: spec.http[0].fault.abort.grpcStatus is \"14\", expected a gRPC status by name: OK, CANCELLED, "
                    + "UNKNOWN, INVALID_ARGUMENT, DEADLINE_EXCEEDED, NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED, RESOURCE_EXHAUSTED, "
                    + "FAILED_PRECONDITION, ABORTED, OUT_OF_RANGE, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS, UNAUTHENTICATED"
            ),
            (
                "    fault: {abort: {httpStatus: 503, grpcStatus: UNAVAILABLE, percentage: {value: 1}}}",
                "test.yaml:10:50: error: spec.http[0].fault.abort: set one of httpStatus or grpcStatus, not both"
            ),
            (
                "    headers: {request: {set: {\"x canary\": \"1\"}}}",
                "test.yaml:10:43: error: spec.http[0].headers.request.set.x canary: expected a header name of letters, digits, "
                    + "- and _, got \"x canary\""
            ),
            (
                "    headers: {response: {remove: [\":status\"]}}",
                "test.yaml:10:35: error: spec.http[0].headers.response.remove[0]: expected a header name of letters, digits, "
                    + "- and _, got \":status\""
            ),
            (
                "    headers: {request: {add: {x-count: 2}}}",
                "test.yaml:10:40: error: spec.http[0].headers.request.add.x-count: expected a string, got integer 2"
            ),
            ("    rewrite: {}", "test.yaml:10:14: error: spec.http[0].rewrite: expected uri or uriRegexRewrite, authority, or both"),
            (
                "    mirror: {host: b}\n    mirrorPercentage: {value: 120}",
                "test.yaml:11:31: error: spec.http[0].mirrorPercentage.value: expected a percentage from 0 to 100, got 120"
            ),
            ("    mirror: {subset: v2}", "test.yaml:10:13: error: spec.http[0].mirror.host is required"),
            (
                "    mirror: {host: b}\n    mirrorPercent: 101",
                "test.yaml:11:20: error: spec.http[0].mirrorPercent: expected a percentage from 0 to 100, got 101"
            ),
        ]
    )
    func invalidValues(policy: String, message: String) {
        let (route, messages) = Self.decoded(Self.routeToA(policy))
        #expect(route == nil)
        #expect(messages.filter { $0.contains(": error: ") } == [message], "\(messages)")
    }

    @Test(
        "rejects invalid redirects and direct responses at the field",
        arguments: [
            (
                "  - redirect: {uri: /new, redirectCode: 300}",
                ["test.yaml:8:41: error: spec.http[0].redirect.redirectCode: expected one of 301, 302, 303, 307, 308, got 300"]
            ),
            (
                "  - redirect: {scheme: ftp}",
                ["test.yaml:8:24: error: spec.http[0].redirect.scheme: expected one of http, https, got \"ftp\""]
            ),
            (
                "  - redirect: {port: 0}",
                ["test.yaml:8:22: error: spec.http[0].redirect.port: expected a port from 1 to 65535, got 0"]
            ),
            (
                "  - redirect: {port: 8080, derivePort: FROM_REQUEST_PORT}",
                ["test.yaml:8:40: error: spec.http[0].redirect.derivePort cannot be combined with port: set one of them"]
            ),
            (
                "  - redirect: {redirectCode: 302}",
                ["test.yaml:8:15: error: spec.http[0].redirect: expected at least one of uri, authority, scheme, port or derivePort"]
            ),
            (
                "  - directResponse: {body: {string: x}}",
                ["test.yaml:8:21: error: spec.http[0].directResponse.status is required"]
            ),
            (
                "  - directResponse: {status: 700}",
                ["test.yaml:8:30: error: spec.http[0].directResponse.status: expected an HTTP status from 200 to 599, got 700"]
            ),
            (
                "  - directResponse: {status: 200, body: {}}",
                ["test.yaml:8:41: error: spec.http[0].directResponse.body: expected string or bytes"]
            ),
            (
                "  - directResponse: {status: 200, body: {string: a, bytes: YQ==}}",
                ["test.yaml:8:41: error: spec.http[0].directResponse.body: set only one of string or bytes, got string and bytes"]
            ),
            (
                "  - directResponse: {status: 200, body: {bytes: \"not base64!\"}}",
                ["test.yaml:8:49: error: spec.http[0].directResponse.body.bytes: expected base64, got \"not base64!\""]
            ),
        ]
    )
    func invalidAnswers(http: String, expected: [String]) {
        let (route, messages) = Self.decoded(http)
        #expect(route == nil)
        #expect(messages == expected)
    }

    @Test(
        "reads a host or :authority that a request's headers set or add as its new Host, not as a header, a set one over an added one, as Istio does",
        arguments: [
            ("    headers: {request: {set: {Host: b.web}}}", HeaderOperations(authority: "b.web")),
            ("    headers: {request: {add: {\":authority\": b.web:8080, x-a: \"1\"}}}", HeaderOperations(add: ["x-a": "1"], authority: "b.web:8080")),
            ("    headers: {request: {set: {host: set.web}, add: {host: added.web}}}", HeaderOperations(authority: "set.web")),
        ]
    )
    func hostInHeaders(policy: String, expected: HeaderOperations) {
        let (route, messages) = Self.decoded(Self.routeToA(policy))
        #expect(messages.isEmpty, "\(messages)")
        #expect(route?.headers?.request == expected)
    }

    @Test(
        "refuses removing a request's Host, giving it twice in one list, an empty one, and a Host in a response, at the field",
        arguments: [
            (
                "    headers: {request: {remove: [x-a, Host]}}",
                "test.yaml:10:39: error: spec.http[0].headers.request.remove[1]: a request cannot go without its Host header, "
                    + "so host cannot be removed (Istio refuses it too)"
            ),
            (
                "    headers: {request: {set: {host: a.web, \":authority\": b.web}}}",
                "test.yaml:10:58: error: spec.http[0].headers.request.set.:authority: the Host is already given as host here; "
                    + "give it once, as host or :authority"
            ),
            (
                "    headers: {request: {set: {host: \"\"}}}",
                "test.yaml:10:37: error: spec.http[0].headers.request.set.host is \"\", expected a host (and port), as host:port"
            ),
            (
                "    headers: {response: {set: {host: a.web}}}",
                "test.yaml:10:38: error: spec.http[0].headers.response.set.host: a response has no Host header to change (Istio refuses it too)"
            ),
        ]
    )
    func hostInHeadersRefused(policy: String, message: String) {
        let (route, messages) = Self.decoded(Self.routeToA(policy))
        #expect(route == nil)
        #expect(messages == [message])
    }

    @Test("decodes a corsPolicy with Istio's field names, and the deprecated allowOrigin as exact origins with a warning")
    func corsPolicy() throws {
        let (route, messages) = Self.decoded(Self.routeToA("""
                corsPolicy:
                  allowOrigins: [{exact: "https://shop.example"}, {prefix: "https://preview-"}, {regex: "https://.*\\\\.example\\\\.org"}]
                  allowMethods: [GET, POST]
                  allowHeaders: [content-type, X-Token]
                  exposeHeaders: ["*"]
                  maxAge: 24h
                  allowCredentials: true
                  unmatchedPreflights: IGNORE
            """))
        #expect(messages.isEmpty, "\(messages)")
        let policy = try #require(route?.corsPolicy)
        #expect(policy.allowOrigins.map(\.description) == ["exact https://shop.example", "prefix https://preview-", "regex https://.*\\.example\\.org"])
        #expect(policy.allowMethods == ["GET", "POST"] && policy.allowHeaders == ["content-type", "X-Token"] && policy.exposeHeaders == ["*"])
        #expect(policy.maxAge == .seconds(86400) && policy.allowCredentials == true && policy.unmatchedPreflights == .ignore)

        let (old, warnings) = Self.decoded(Self.routeToA("    corsPolicy: {allowOrigin: [\"https://shop.example\"]}"))
        #expect(old?.corsPolicy == CorsPolicy(allowOrigins: [.exact("https://shop.example")]))
        #expect(warnings == ["test.yaml:10:31: warning: spec.http[0].corsPolicy.allowOrigin is deprecated: use allowOrigins: [{exact: ORIGIN}]"])
    }

    @Test(
        "refuses what Istio refuses in a corsPolicy, at the field",
        arguments: [
            (
                "    corsPolicy: {allowMethods: [GET, get]}",
                "test.yaml:10:38: error: spec.http[0].corsPolicy.allowMethods[1] is \"get\", expected one of *, CONNECT, DELETE, GET, HEAD, "
                    + "OPTIONS, PATCH, POST, PUT, TRACE (Istio's list, in capitals)"
            ),
            (
                "    corsPolicy: {allowHeaders: [\"x token\"]}",
                "test.yaml:10:33: error: spec.http[0].corsPolicy.allowHeaders[0]: expected a header name of letters, digits, - and _, got \"x token\""
            ),
            (
                "    corsPolicy: {maxAge: 1.5s}",
                "test.yaml:10:26: error: spec.http[0].corsPolicy.maxAge: expected whole seconds (a browser keeps a preflight's answer for seconds), got \"1.5s\""
            ),
            (
                "    corsPolicy: {allowOrigins: [{exact: \"\"}]}",
                "test.yaml:10:33: error: spec.http[0].corsPolicy.allowOrigins[0]: expected an origin to match, got \"\" (Istio refuses it)"
            ),
            (
                "    corsPolicy: {unmatchedPreflights: DROP}",
                "test.yaml:10:39: error: spec.http[0].corsPolicy.unmatchedPreflights is \"DROP\", expected FORWARD (Istio's default) or IGNORE"
            ),
        ]
    )
    func corsPolicyRefused(policy: String, message: String) {
        let (route, messages) = Self.decoded(Self.routeToA(policy))
        #expect(route == nil)
        #expect(messages == [message])
    }

    @Test("decodes mirrors, each with its own percentage (every request when none is written), and refuses mirror beside them, as Istio does")
    func mirrors() {
        let (route, messages) = Self.decoded(Self.routeToA("""
                mirrors:
                - destination: {host: b, port: {number: 8080}}
                - destination: {host: c}
                  percentage: {value: 12.5}
            """))
        #expect(messages.isEmpty, "\(messages)")
        #expect(route?.mirrors == [
            HTTPMirrorPolicy(destination: Destination(host: "b", port: 8080)), HTTPMirrorPolicy(destination: Destination(host: "c"), percentage: Percent(12.5)),
        ])
        let (both, refused) = Self.decoded(Self.routeToA("    mirror: {host: b}\n    mirrors: [{destination: {host: c}}]"))
        #expect(both == nil)
        #expect(refused == ["test.yaml:10:13: error: spec.http[0].mirror: a route cannot have both mirror and mirrors (Istio refuses it): list this one in mirrors"])
        let (_, missing) = Self.decoded(Self.routeToA("    mirrors: [{percentage: {value: 5}}]"))
        #expect(missing == ["test.yaml:10:15: error: spec.http[0].mirrors[0].destination is required"])
    }

    @Test("decodes uriRegexRewrite, and refuses it beside uri, without match or rewrite, or with a malformed pattern, as Istio does")
    func uriRegexRewrite() throws {
        let (route, messages) = Self.decoded(Self.routeToA(#"    rewrite: {uriRegexRewrite: {match: "^/service/([^/]+)(/.*)$", rewrite: "\\2/instance/\\1"}}"#))
        #expect(messages.isEmpty, "\(messages)")
        #expect(route?.rewrite == HTTPRewrite(uriRegex: RegexRewrite(match: try RegexPattern("^/service/([^/]+)(/.*)$"), rewrite: #"\2/instance/\1"#)))
        for (policy, message) in [
            (
                "    rewrite: {uri: /a, uriRegexRewrite: {match: a, rewrite: b}}",
                "test.yaml:10:41: error: spec.http[0].rewrite.uriRegexRewrite: set one of uri or uriRegexRewrite, not both (Istio refuses it)"
            ),
            ("    rewrite: {uriRegexRewrite: {match: a}}", "test.yaml:10:32: error: spec.http[0].rewrite.uriRegexRewrite.rewrite is required"),
            (
                "    rewrite: {uriRegexRewrite: {match: \"\", rewrite: b}}",
                "test.yaml:10:40: error: spec.http[0].rewrite.uriRegexRewrite.match: expected a non-empty value (Istio requires both match and rewrite)"
            ),
        ] {
            let (refused, said) = Self.decoded(Self.routeToA(policy))
            #expect(refused == nil)
            #expect(said == [message])
        }
        let (_, malformed) = Self.decoded(Self.routeToA("    rewrite: {uriRegexRewrite: {match: \"(\", rewrite: b}}"))
        #expect(malformed.count == 1 && malformed[0].contains("spec.http[0].rewrite.uriRegexRewrite.match: invalid regex \"(\""), "\(malformed)")
    }

    @Test("rejects a direct response body over 1MB and warns about one over 100KB, as Istio does")
    func bodySize() {
        let large = String(repeating: "x", count: 100 * 1024 + 1)
        let (route, messages) = Self.decoded("  - directResponse: {status: 200, body: {string: \(large)}}")
        #expect(route?.directResponse?.body?.contents.count == large.utf8.count)
        #expect(messages == [
            "test.yaml:8:41: warning: spec.http[0].directResponse.body: a body of 102401 bytes (over 100KB) is held "
                + "in every copy of the route table"
        ])
        let huge = String(repeating: "x", count: 1024 * 1024 + 1)
        let (rejected, errors) = Self.decoded("  - directResponse: {status: 200, body: {string: \(huge)}}")
        #expect(rejected == nil)
        #expect(errors == ["test.yaml:8:41: error: spec.http[0].directResponse.body: expected a body of at most 1MB, got 1048577 bytes"])
    }

    @Test(
        "a route forwards or answers, never both, as Istio requires",
        arguments: [
            (
                "  - route:\n    - destination: {host: a}\n    redirect: {uri: /b}",
                ["test.yaml:10:15: error: spec.http[0].redirect cannot be combined with route: Istio rejects a route with both"]
            ),
            (
                "  - route:\n    - destination: {host: a}\n    directResponse: {status: 404}",
                ["test.yaml:10:21: error: spec.http[0].directResponse cannot be combined with route: Istio rejects a route with both"]
            ),
            (
                "  - redirect: {uri: /b}\n    directResponse: {status: 404}",
                ["test.yaml:9:21: error: spec.http[0].directResponse cannot be combined with redirect: Istio rejects a route with both"]
            ),
            (
                "  - redirect: {uri: /b}\n    rewrite: {uri: /c}",
                ["test.yaml:8:15: error: spec.http[0].redirect cannot be combined with rewrite: Istio rejects a route with both"]
            ),
            (
                "  - directResponse: {status: 503}\n    fault: {abort: {httpStatus: 503, percentage: {value: 1}}}",
                ["test.yaml:8:21: error: spec.http[0].directResponse cannot be combined with fault: Istio rejects a route with both"]
            ),
            (
                "  - match:\n    - uri: {prefix: /}\n    timeout: 1s",
                ["test.yaml:8:5: error: spec.http[0]: expected route, redirect, directResponse or delegate"]
            ),
            (
                "  - route: []",
                ["test.yaml:8:12: error: spec.http[0].route: expected at least one destination"]
            ),
        ]
    )
    func forwardsOrAnswers(http: String, expected: [String]) {
        let (route, messages) = Self.decoded(http)
        #expect(route == nil)
        #expect(messages == expected)
    }

    @Test("an empty route beside a redirect is no route, as in Istio")
    func emptyRouteBesideRedirect() {
        let (route, messages) = Self.decoded("  - route: []\n    redirect: {uri: /b}")
        #expect(messages.isEmpty)
        #expect(route == HTTPRoute(destinations: [], redirect: HTTPRedirect(uri: "/b")))
    }
}
