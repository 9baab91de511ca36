import NIOCore
import NIOHTTP1
import SerinCore

// MARK: Routing a request head

extension ProxyHandler {
    /// Routes a request head just read: the gateway answers it itself (no route, a direct response or redirect,
    /// nowhere healthy to send it, a fault abort), or an exchange starts towards the chosen endpoint.
    /// Most requests are in origin form already: routed as read, with no copy of the head. The head is borrowed
    /// (`inout`) so routing can lend its fields to `headerLookup` and take them back without a copy.
    func begin(_ received: inout RequestHead, hasBody: Bool) {
        if RequestHead.httpSchemeLength(of: received.target) != nil { received = received.inOriginForm() }
        // Routed, and sent upstream, as Istio's Envoy normalizes it: dot segments resolved, unreserved escapes decoded.
        if let normalized = RequestPath.normalized(received.target) { received.target = normalized }
        route(&received, hasBody: hasBody)
    }

    private func route(_ head: inout RequestHead, hasBody: Bool) {
        let started = NIODeadline.now()
        if !answerFields.isEmpty { answerFields = [] }
        deadlines.headReceived()
        let upgrade = head.passedUpgrade
        guard case .route = machine.requestHead(keepAlive: head.isKeepAlive, version: head.version, hasBody: hasBody, upgrade: upgrade != nil)
        else { return }
        let installed = loop.routeTable(routes)
        // What the gateway's own answers to this request are (the refusal of an upgrade too): looked at only where one
        // may be gRPC or gRPC-Web, or where the connection's last request's was.
        if servesHTTP2Stream || answersInGRPC || installed.table.translatesGRPCWeb {
            grpcWebAnswer = installed.table.translatesGRPCWeb ? grpcWebAnswer(to: head, on: installed.table) : nil
            answersInGRPC = grpcWebAnswer != nil || servesHTTP2Stream && head.fields.first("content-type").map(GRPCLocalAnswer.isGRPC) ?? false
        }
        if upgrade == nil, head.fields.contains(.upgrade), let refused = head.refusedUpgrade {
            return answer(
                .direct(status: 403), "upgrade_failed: the gateway switches to websocket only, as Istio configures Envoy; this request asked for \"\(refused)\"",
                head: head, started: started
            )
        }
        let authority = head.fields.first(.host, sameAs: lastAuthority) ?? ""
        lastAuthority = authority
        let route: RouteTable.Route
        // What routing reads of the request: made only when a route is resolved, or when something after asks for it.
        var resolvedWith: RequestAttributes?
        if let memo = routeMemo, let remembered = memo.route(for: head, authority: authority, table: installed) {
            route = remembered
        } else {
            let attributes = RequestAttributes(method: head.method, target: head.target, authority: authority, headers: headerLookup)
            resolvedWith = attributes
            // Lent, not copied: the lookup holds the fields only while the route is resolved.
            swap(&headerLookup.fields, &head.fields)
            let resolution = inMesh ? installed.resolveMesh(attributes) : installed.resolve(attributes, port: declaredPort, handshake: handshake)
            swap(&headerLookup.fields, &head.fields)
            switch resolution {
            case .noRoute(let reason):
                return answer(.noRoute, "no route: \(reason)", head: head, started: started)
            case .misdirected(let reason):
                return answer(.misdirected, "misdirected request: \(reason)", head: head, started: started)
            case .route(let found):
                route = found
            }
            let readsHeaders = inMesh ? installed.table.meshReadsRequestHeaders : installed.table.listeners[declaredPort]?.readsRequestHeaders ?? true
            routeMemo = readsHeaders ? nil : RouteMemo(head: head, authority: authority, table: installed, route: route)
        }
        func attributes() -> RequestAttributes {
            resolvedWith ?? RequestAttributes(method: head.method, target: head.target, authority: authority, headers: headerLookup)
        }
        if route.appliesCORS, let cors = route.policy.cors {
            let answer = cors.answer(
                method: head.method, origin: head.fields.first("origin"),
                requestMethod: head.fields.first("access-control-request-method"),
                requestHeaders: head.fields.first("access-control-request-headers")
            )
            switch answer {
            case .pass:
                break
            case .allow(let fields):
                answerFields = fields.map(AnswerField.init(replacing:))
            case .preflight(let fields):
                // As Envoy's CORS filter, ahead of faults, redirects and the route's destinations.
                answerFields = fields.map(AnswerField.init(replacing:))
                return self.answer(.direct(status: 200), body: [], contentType: nil, head: head, started: started)
            }
        }
        if let direct = route.policy.directResponse {
            var contentType: String?
            if case .string = direct.body { contentType = Self.plainText }
            return answer(
                .direct(status: direct.status), body: direct.body?.contents ?? [], contentType: contentType, head: head, started: started
            )
        }
        if let redirect = route.policy.redirect {
            return answer(
                .redirect(status: redirect.redirectCode), body: [], contentType: nil,
                extraHeaders: [("location", RouteActions.location(for: redirect, request: head, scheme: overTLS ? "https" : "http"))], head: head, started: started
            )
        }
        // As Envoy's fault filter, ahead of the router: the delay and the abort are drawn apart (a request may get
        // either, both or neither), and neither depends on the destination. An abort without a delay answers now,
        // before any endpoint is chosen; a delayed one answers once the delay is over.
        let delayed = route.policy.fault?.delay.map { $0.percentage.includes(draw: percentDraw()) } ?? false
        let abort = route.policy.fault?.abort.flatMap { $0.percentage.includes(draw: percentDraw()) ? $0 : nil }
        let picked: RouteTable.Target?
        if let stickiness = route.stickiness, let point = head.fields.stickyPoint(stickiness) {
            picked = route.target(forPoint: point)
        } else {
            picked = route.target(forRoll: Int(random.next() % UInt64(max(route.totalWeight, 1))))
        }
        guard let target = picked else {
            if let abort { return answer(abort, head: head, started: started, destination: nil) }
            return answer(
                .noHealthyUpstream, "no healthy upstream: route \(route.label) has no weighted destination", head: head, started: started
            )
        }
        if let abort, !delayed { return answer(abort, head: head, started: started, destination: target.cluster) }
        // The loop's turn, not the connection's: a client opening a connection per request is spread over the
        // endpoints too (a counter of its own started every connection on the same endpoint).
        endpointTurn = loop.nextEndpointTurn()
        let shared = clusters.shared(for: target)
        var chosen: Int?
        var load: EndpointLoad?
        var hashKey: UInt64?
        if let shared, let balancing = shared.balancing {
            (chosen, hashKey) = balancedEndpoint(balancing, of: shared, head: head, attributes: attributes())
        } else if let shared, shared.warmup != nil, let warming = warmingEndpoint(of: target, shared: shared) {
            (chosen, load) = warming
        } else {
            chosen = pickEndpoint(of: target, shared: shared)
            if target.cluster.balancesByLoad, let inTurn = chosen {
                let counts = loop.load(of: target.cluster)
                chosen = counts.lighter(inTurn, or: otherEndpoint(than: inTurn, of: target, shared: shared), endpoints: target.cluster.endpoints)
                load = counts
            }
        }
        guard let endpointIndex = chosen else {
            // Nowhere to send it: answered at once, its delay skipped (Envoy would wait it out first).
            if let abort { return answer(abort, head: head, started: started, destination: target.cluster) }
            let why =
                target.cluster.service == nil
                ? "\(target.cluster.host) does not resolve to a Service or ServiceEntry"
                : target.cluster.endpoints.isEmpty
                    ? target.cluster.subset.map { "no endpoint of \(target.cluster.host) carries the labels of its subset \($0)" }
                        ?? "\(target.cluster.host) has no endpoints (in embedded mode a ServiceEntry with STATIC endpoints says where it lives)"
                    : "every endpoint of \(target.cluster.name) is ejected by outlier detection"
            return answer(.noHealthyUpstream, "no healthy upstream: \(why)", head: head, started: started, destination: target.cluster)
        }
        // `expect: 100-continue` is the gateway's to answer, as Envoy answers it (`proxy_100_continue` off, Istio's
        // default): the field goes no further, so a backend that never sends `100` does not hold the body back.
        // An HTTP/1.0 client's is ignored, as RFC 9110 §10.1.1 says, and a request without a body has nothing to continue.
        let continues = head.fields.contains(.expect) && Self.removeContinueExpectation(&head) && hasBody && head.version != .http1_0
        let (encodedHead, mirrors) = upstreamRequest(for: head, route: route, target: target, path: attributes().path, upgrade: upgrade)
        let exchange = ProxyExchange(
            upstreamHead: encodedHead, isHEAD: head.isHEAD, downstreamVersion: head.version,
            route: route, target: target, endpointIndex: endpointIndex, cluster: shared, started: started
        )
        exchange.upgrade = upgrade
        exchange.hashKey = hashKey
        if continues {
            exchange.continued = true
            client?.continueRequest()
        }
        if let load { exchange.count(in: load) }
        if let shared, shared.namesServerPerRequest {
            // As Envoy's auto_sni: the host the request goes upstream with, after the route's host rewrite.
            exchange.serverHost = UpstreamCluster.serverHost(
                route.authority(toward: target).map(RequestAttributes.host(ofAuthority:)) ?? attributes().host
            )
        }
        self.exchange = exchange
        // A gRPC client's own deadline (`grpc-timeout`) bounds the request, within the route's timeout: Istio caps
        // Envoy's gRPC timeout at the route's (`grpc_timeout_header_max`), unbounded without one.
        var timeout = route.policy.timeout
        if head.fields.contains(.grpcTimeout), let value = head.fields.first(.grpcTimeout), let asked = GRPCTimeout.parse(value) {
            exchange.clientDeadline = timeout.map { asked <= $0 } ?? true
            timeout = min(timeout ?? asked, asked)
        }
        exchange.timeout = timeout
        if delayed {
            // Held as Envoy's fault filter holds it: the router's timeout and mirrors start once the delay is over.
            if abort != nil || mirrors != nil { exchange.heldByFault = ProxyExchange.HeldByFault(abort: abort, mirrors: mirrors) }
        } else {
            goesUpstream(exchange, mirrors: mirrors, started: started)
        }
        // The common outcome taken here, not through `run`, which would copy the whole action to ask which it is.
        let action = machine.routedUpstream(retries: route.policy.retries?.attempts ?? 0, delayed: delayed)
        if case .connect = action { return connect(exchange) }
        run(action, for: exchange)
    }

    /// Removes the request's `expect: 100-continue`, saying whether it had one (any other expectation goes on).
    private static func removeContinueExpectation(_ head: inout RequestHead) -> Bool {
        guard let value = head.fields.first(.expect), ASCII.equal(value.utf8, "100-continue".utf8, ignoringCase: true) else {
            return false
        }
        head.fields.remove("expect")
        return true
    }

    /// The route a connection's last request resolved, and what it was resolved for.
    struct RouteMemo {
        let method: String
        let target: String
        let authority: String
        let generation: Int
        let box: ObjectIdentifier
        let route: RouteTable.Route

        init(head: RequestHead, authority: String, table: LoopRouteTable, route: RouteTable.Route) {
            method = head.method
            target = head.target
            self.authority = authority
            generation = table.generation
            box = table.box
            self.route = route
        }

        /// The route again, for a request with the same method, target and host on the same table; else nil.
        @inline(__always)
        func route(for head: RequestHead, authority: String, table: LoopRouteTable) -> RouteTable.Route? {
            guard generation == table.generation, box == table.box, target == head.target, authority == self.authority,
                method == head.method
            else { return nil }
            return route
        }
    }

    /// The request leaves the fault filter for the router, as it is routed or once its delay is over: the route's
    /// timeout runs from now, and the copies of it go to the mirrors, with what arrived of its body so far.
    @inline(__always)
    private func goesUpstream(_ exchange: ProxyExchange, mirrors: MirrorCopies?, started: NIODeadline) {
        if let timeout = exchange.timeout {
            exchange.deadline = schedule(after: timeout, for: exchange) { handler in handler.timedOut(exchange) }
        }
        guard let mirrors else { return }
        exchange.mirrors = mirrors.destinations.map { startMirror(of: mirrors.head, to: $0.cluster, endpoint: $0.endpoint, started: started) }
        for mirror in exchange.mirrors {
            for bytes in exchange.buffered { mirror.send(body: bytes) }
            if machine.exchange?.requestEnded == true { mirror.endRequest() }
        }
    }

    /// A fault delay passed: the abort drawn for the request answers it, or it goes upstream.
    func delayElapsed(_ exchange: ProxyExchange) -> Action {
        let held = exchange.heldByFault
        exchange.heldByFault = nil
        if let abort = held?.abort { return machine.abortedAfterDelay(.faultAbort(abort)) }
        goesUpstream(exchange, mirrors: held?.mirrors, started: exchange.started)
        return machine.delayElapsed()
    }

    /// The copies of a request for the route's mirrors that drew it: the head as it goes to them, and where each goes.
    /// A class, not a struct: most requests have none, and a nil reference is dropped without asking its type how.
    final class MirrorCopies {
        let head: RequestHead
        let destinations: [(cluster: Cluster, endpoint: Cluster.Endpoint)]

        init(head: RequestHead, destinations: [(cluster: Cluster, endpoint: Cluster.Endpoint)]) {
            self.head = head
            self.destinations = destinations
        }
    }

    /// The request head as it goes upstream, and the mirrors' copies of the request, if any mirror draws it. The
    /// common request is forwarded as it came, less hop-by-hop fields, plus the forwarding fields, written straight
    /// from the bytes read; rewrites and header edits work on a copy first.
    @inline(__always)
    private func upstreamRequest(
        for head: RequestHead, route: RouteTable.Route, target: RouteTable.Target, path: @autoclosure () -> Substring, upgrade: String?
    ) -> (ByteBuffer, mirrors: MirrorCopies?) {
        var encodedHead = reuse(&upstreamHeadBuffer, capacity: 256 + head.target.utf8.count)
        if !route.changesRequest && !target.editsRequest {
            // At a gateway (a client address to forward) the client's `x-request-id` is replaced, as Envoy replaces an
            // external request's (`preserve_external_request_id` off, Istio's default); the mesh keeps a caller's.
            ProxyHeaders.writeUpstreamRequest(
                head, clientAddress: forwardedFor, overTLS: overTLS, upgrade: upgrade, clientCertificate: clientCertificate,
                freshRequestID: forwardedFor != nil, random: &random, to: &encodedHead
            )
            upstreamHeadBuffer = encodedHead
            return (encodedHead, nil)
        }
        var mirrors: [(cluster: Cluster, endpoint: Cluster.Endpoint)] = []
        var upstreamHead = head
        // Replaced before the route's own header edits, which Envoy's router applies after the id is made.
        if forwardedFor != nil { upstreamHead.fields.replaceOrAdd(name: "x-request-id", value: random.requestID()) }
        RouteActions.edit(&upstreamHead, route: route, target: target, path: path())
        // Each mirror draws its own share, as Envoy's request_mirror_policies do.
        for mirrorPolicy in route.policy.mirrors where mirrorPolicy.percentage.includes(draw: percentDraw()) {
            guard let mirrorEndpoint = mirrorPolicy.cluster.endpoint(forTurn: endpointTurn) else { continue }
            // The shadows carry the same request id as the real request.
            if !upstreamHead.fields.contains(.xRequestID) {
                upstreamHead.fields.add(name: "x-request-id", value: random.requestID())
            }
            mirrors.append((mirrorPolicy.cluster, mirrorEndpoint))
        }
        ProxyHeaders.writeUpstreamRequest(
            upstreamHead, clientAddress: forwardedFor, overTLS: overTLS, upgrade: upgrade, clientCertificate: clientCertificate,
            random: &random, to: &encodedHead
        )
        upstreamHeadBuffer = encodedHead
        return (encodedHead, mirrors.isEmpty ? nil : MirrorCopies(head: upstreamHead, destinations: mirrors))
    }

    /// A fault's abort, answered as the request is routed.
    private func answer(_ abort: HTTPFaultInjection.Abort, head: RequestHead, started: NIODeadline, destination: Cluster?) {
        answer(
            .faultAbort(status: abort.httpStatus), Self.faultAbortText, head: head, started: started, destination: destination,
            grpcStatus: abort.grpcStatus
        )
    }

    /// What a fault's abort answers, as Envoy's fault filter words it.
    static let faultAbortText = "fault filter abort"

    private func answer(
        _ answer: ProxyStateMachine.LocalAnswer, _ text: String, head: RequestHead, started: NIODeadline, destination: Cluster? = nil,
        grpcStatus: Int? = nil
    ) {
        self.answer(
            answer, body: Array((text + "\n").utf8), contentType: Self.plainText, head: head, started: started, destination: destination,
            grpcStatus: grpcStatus
        )
    }

    /// The gateway's own answer to a request it routed, counted under `destination` (`unknown` when the
    /// request got no further than its route). `grpcStatus`: the status a gRPC request is answered with (a fault's
    /// `grpcStatus`), where otherwise it follows from the HTTP status.
    private func answer(
        _ answer: ProxyStateMachine.LocalAnswer, body: [UInt8], contentType: String?, extraHeaders: [(String, String)] = [],
        head: RequestHead, started: NIODeadline, destination: Cluster? = nil, grpcStatus: Int? = nil
    ) {
        guard case .answerLocally(let status, let flag, let keepAlive) = machine.routed(answer) else { return }
        let counted = localAnswerCounted(status, grpcStatus: grpcStatus)
        telemetry.record(
            TrafficKey(
                destinationService: destination?.host ?? "unknown", subset: destination?.subset, responseCode: counted.code,
                responseFlags: flag, grpcStatus: counted.grpcStatus
            ),
            milliseconds: Self.milliseconds(since: started), requestBytes: 0, responseBytes: body.count, shard: loop.shard
        )
        writeLocalResponse(
            HTTPResponseStatus(statusCode: status), body: body, contentType: contentType, extraHeaders: extraHeaders,
            version: head.version, keepAlive: keepAlive, grpcStatus: grpcStatus
        )
    }

    /// While an endpoint of `shared` warms up, the endpoint for this request: a draw by the weights the warmup scales,
    /// under `LEAST_REQUEST` each also divided by the requests in flight to it on this loop (whose counts come back,
    /// to count this request in). Nil once the warmups are over.
    private func warmingEndpoint(of target: RouteTable.Target, shared: UpstreamCluster) -> (Int, EndpointLoad?)? {
        let now = UpstreamCluster.now
        guard shared.isWarming(now: now) else { return nil }
        let counts = target.cluster.balancesByLoad ? loop.load(of: target.cluster) : nil
        return shared.warmingPick(draw: random.next(), now: now, load: counts).map { ($0, counts) }
    }

    /// The endpoint index for the next round-robin turn; outlier detection skips ejected endpoints.
    func pickEndpoint(of target: RouteTable.Target, shared: UpstreamCluster?) -> Int? {
        Self.pickEndpoint(of: target, shared: shared, turn: endpointTurn)
    }

    /// The endpoint index for round-robin turn `turn`, skipping what outlier detection ejected (and the locality levels
    /// of the endpoints in `leavingLevelsOf`, a retry's under `retryRemoteLocalities`): live requests and synthetic
    /// ones pick alike.
    static func pickEndpoint(
        of target: RouteTable.Target, shared: UpstreamCluster?, turn: Int, leavingLevelsOf left: ArraySlice<Int>? = nil
    ) -> Int? {
        if let shared { return shared.pick(forTurn: turn, now: UpstreamCluster.now, leavingLevelsOf: left) }
        let count = target.cluster.endpoints.count
        guard count > 0 else { return nil }
        return target.cluster.schedule.endpoint(forTurn: turn, count: count)
    }

    /// The endpoint a retry moves to, chosen as the first attempt's was, and as Envoy does under Istio's
    /// `retryIgnorePreviousHosts` (on unless the cluster balances by consistent hash): passing over the endpoints
    /// already tried for the request while another can take it, else the balancer's own choice. By turns, the next
    /// turn's endpoint (and under weights, which can give one endpoint turns in a row, the first turn after it that
    /// is not yet tried); at random, likewise from a random turn; by hash, the key's own endpoint, or the next in the
    /// key's order. (Envoy draws up to five more times, and may end on a tried endpoint while one is left.) Under
    /// `retryRemoteLocalities`, turns also leave the locality levels of the attempts `HTTPRetry.levelsLeftBehind` counts.
    func retryEndpoint(of exchange: ProxyExchange) -> Int? {
        let shared = exchange.cluster
        let avoidTried = exchange.route.policy.retries?.avoidsTriedEndpoints(hashed: shared?.balancing?.isHashed ?? false) ?? true
        if let shared, let key = exchange.hashKey {
            let now = UpstreamCluster.now
            guard avoidTried else { return shared.pick(forHash: key, now: now) }
            return shared.pick(forHash: key, now: now, passingOver: exchange.hasTried) ?? shared.pick(forHash: key, now: now)
        }
        // In turn: from the next turn on. At random: from a random turn, so every endpoint not yet tried is as likely.
        let random = shared?.balancing?.isRandom ?? false
        var turn = random ? Int(truncatingIfNeeded: self.random.next() >> 1) : endpointTurn &+ 1
        let cluster = exchange.target.cluster
        // Under retryRemoteLocalities, the locality levels the first attempts reached are left (Envoy's previous_priorities).
        let attempts = (exchange.triedEndpoints ?? []) + [exchange.endpointIndex]
        let left = attempts.prefix(exchange.route.policy.retries?.levelsLeftBehind(attempts: attempts.count) ?? 0)
        var next: Int?
        for _ in 0..<(avoidTried ? max(cluster.schedule.order.count, cluster.endpoints.count, 1) : 1) {
            next = Self.pickEndpoint(of: exchange.target, shared: shared, turn: turn, leavingLevelsOf: left.isEmpty ? nil : left)
            if let candidate = next, !exchange.hasTried(candidate) { break }
            turn &+= 1
        }
        if !random { endpointTurn = turn }
        return next
    }

    /// A second endpoint for `LEAST_REQUEST` to weigh against `first`: drawn at random among the others; one outlier
    /// detection ejected, or on another locality level than `first`, gives way to the next that is not (possibly
    /// `first` again).
    private func otherEndpoint(than first: Int, of target: RouteTable.Target, shared: UpstreamCluster?) -> Int {
        let count = target.cluster.endpoints.count
        let other = (first + 1 + Int(random.next() % UInt64(count - 1))) % count
        guard let shared, shared.hasOutlierDetection else { return other }
        return shared.pick(forTurn: other, now: UpstreamCluster.now, sameLevelAs: first) ?? first
    }

    /// A uniform draw in 0..<100, for the percentages of faults and mirrors.
    private func percentDraw() -> Double {
        Double(random.next() >> 11) / Double(UInt64(1) << 53) * 100
    }

    private func startMirror(
        of head: RequestHead, to cluster: Cluster, endpoint: Cluster.Endpoint, started: NIODeadline
    ) -> MirrorExchange {
        let telemetry = self.telemetry
        let shard = loop.shard
        // With the mirror cluster's shared state, its connection budget, upstream TLS and PROXY protocol apply to the copy.
        let shared = clusters.shared(for: cluster)
        return MirrorExchange(
            original: head, clientAddress: forwardedFor, overTLS: overTLS, clientCertificate: clientCertificate, endpoint: endpoint,
            loop: loop, http2: cluster.upstreamHTTP2(downstreamHTTP2: servesHTTP2Stream), cluster: shared,
            proxyHeader: shared?.policy.proxyProtocol.flatMap { ends?.proxyHeader($0) }
        ) { status, flag in
            telemetry.record(
                TrafficKey(cluster: cluster, endpoint: endpoint, responseCode: status, responseFlags: flag, kind: .mirror),
                milliseconds: Self.milliseconds(since: started), requestBytes: 0, responseBytes: 0, shard: shard
            )
        }
    }

    /// A buffer for the next head: the last head's memory once the socket has taken its bytes (nothing else
    /// holds it then, so clearing it allocates nothing), else a new one.
    func reuse(_ slot: inout ByteBuffer?, capacity: Int) -> ByteBuffer {
        guard var buffer = slot.take() else {
            return client?.allocator.buffer(capacity: capacity) ?? ByteBufferAllocator().buffer(capacity: capacity)
        }
        buffer.clear(minimumCapacity: capacity)
        return buffer
    }

    /// The content type of the gateway's own answers to a gRPC-Web request on a `GRPC-WEB` server; nil for any other.
    private func grpcWebAnswer(to head: RequestHead, on table: RouteTable) -> String? {
        guard !inMesh, table.listeners[declaredPort]?.translatesGRPCWeb == true,
            let translation = GRPCWebTranslation(contentType: head.fields.first("content-type"), accept: head.fields.first("accept"))
        else { return nil }
        return translation.textResponse ? "application/grpc-web-text+proto" : "application/grpc-web+proto"
    }

}
