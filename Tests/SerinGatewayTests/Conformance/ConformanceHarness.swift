import Foundation
import NIOCore
import NIOPosix
import SerinCore
import SerinGateway
import SerinTesting

/// One corpus case: raw bytes a client sends (or, for a response case, the raw answer a backend sends), the
/// RFC text it exercises, and the decision recorded about how Serin and Envoy may differ on it.
struct ConformanceCase: Decodable, Sendable {
    var id: String
    var rfc: String
    /// `same`, `serin-right: <citation>` or `immaterial: <why>`.
    var decision: String
    /// The client's bytes; `\u00XX` escapes stand for single bytes.
    var request: String?
    /// A backend's scripted answer to `GET /resp/<id>` (the backend closes after it).
    var response: String?

    var expectsSame: Bool { decision == "same" }

    /// What the client sends: the case's request (or the request for its scripted answer), then a valid
    /// pipelined request, to see whether the connection still serves one.
    /// A response case sends no pipelined request: the backend closes after its answer, and a proxy that
    /// pooled that connection may lose the race to notice (Envoy answers 503 now and then).
    var clientBytes: [UInt8] {
        guard response == nil else { return Array("GET /resp/\(id) HTTP/1.1\r\nhost: conformance\r\n\r\n".utf8) }
        return Self.bytes(request ?? "") + Array(ConformanceHarness.second.utf8)
    }

    var answers: Int { response == nil ? 2 : 1 }

    /// `pending: <why>`: a known difference that work elsewhere settles; reported, neither failed nor passed.
    var isPending: Bool { decision.hasPrefix("pending: ") }

    /// A string's scalars as bytes: every scalar up to U+00FF is one byte, so `\u00ff` is the byte 0xFF.
    static func bytes(_ text: String) -> [UInt8] {
        text.unicodeScalars.flatMap { $0.value <= 0xFF ? [UInt8($0.value)] : Array(String($0).utf8) }
    }
}

/// What a client saw from one proxy for one case.
struct ConformanceObservation: Equatable, CustomStringConvertible {
    /// Final statuses of the answers read, in order (at most the case's and the pipelined one's).
    var statuses: [Int] = []
    /// Whether a `100 Continue` (or another 1xx) came before them.
    var informational = false
    var closed = false
    /// What the backend received for the case's request, when it was forwarded (as the backend echoed it).
    var upstream: EchoedRequest?
    /// Whether the pipelined request was answered by the backend.
    var secondAnswered = false

    var description: String {
        "\(statuses.map(String.init).joined(separator: ",").ifEmpty("no answer"))\(informational ? " (after 1xx)" : "")"
            + "\(closed ? " closed" : " open")\(secondAnswered ? " second-answered" : "")"
            + (upstream.map { " upstream=\($0)" } ?? "")
    }

    /// The status classes and connection fate a client depends on, plus what reached the backend.
    func matches(_ other: ConformanceObservation) -> Bool {
        statuses.map { $0 / 100 } == other.statuses.map { $0 / 100 } && closed == other.closed && upstream == other.upstream
            && secondAnswered == other.secondAnswered
    }
}

/// A request as the echo backend received it: method, target, the client's own header fields (names
/// lower-cased, sorted; framing and proxy-added fields left out, since each proxy frames and stamps its
/// own), and the body's data with any chunk framing removed.
struct EchoedRequest: Equatable, CustomStringConvertible {
    var method: String
    var target: String
    var fields: [String]
    var body: String

    var description: String { "\(method) \(target) [\(fields.joined(separator: "; "))] body=\(body.debugDescription)" }

    static let proxyAdded: Set<String> = [
        "x-forwarded-for", "x-forwarded-proto", "x-request-id", "x-envoy-expected-rq-timeout-ms", "content-length",
        "transfer-encoding", "x-forwarded-host", "x-envoy-original-path",
    ]

    /// Parses the echoed request text; nil when it is not a request head.
    init?(echo text: String) {
        guard let headEnd = text.range(of: "\r\n\r\n") else { return nil }
        let lines = text[..<headEnd.lowerBound].components(separatedBy: "\r\n")
        let requestLine = lines[0].split(separator: " ", omittingEmptySubsequences: false)
        guard requestLine.count == 3 else { return nil }
        method = String(requestLine[0])
        target = String(requestLine[1])
        var chunked = false
        var kept: [String] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if name == "transfer-encoding", value.lowercased().contains("chunked") { chunked = true }
            if !Self.proxyAdded.contains(name), !name.hasPrefix("x-envoy-") { kept.append("\(name): \(value)") }
        }
        // Fields of one name are one comma-separated list (RFC 9110 §5.3): Envoy joins them, Serin keeps the lines.
        var joined: [String: [String]] = [:]
        var order: [String] = []
        for field in kept {
            let name = String(field.prefix { $0 != ":" })
            if joined[name] == nil { order.append(name) }
            joined[name, default: []].append(String(field.dropFirst(name.count + 2)))
        }
        fields = order.map { "\($0): \(joined[$0]!.joined(separator: ","))" }.sorted()
        let rawBody = String(text[headEnd.upperBound...])
        body = chunked ? Self.dechunk(rawBody) : rawBody
    }

    /// The data of a chunked body (extensions and trailers dropped).
    static func dechunk(_ text: String) -> String {
        String(decoding: chunkedBody(Array(text.utf8)[...])?.data ?? [], as: UTF8.self)
    }

    /// Where a whole chunked body at the start of `bytes` ends (just past its empty line) and its data; nil
    /// while it is incomplete or when it is not chunked framing.
    static func chunkedBody(_ bytes: ArraySlice<UInt8>) -> (end: Int, data: [UInt8])? {
        var index = bytes.startIndex
        var data: [UInt8] = []
        func lineEnd(from: Int) -> Int? { bytes[from...].firstIndex(of: UInt8(ascii: "\n")) }
        while let end = lineEnd(from: index) {
            let sizeBytes = bytes[index..<end].prefix { ![UInt8(ascii: ";"), UInt8(ascii: "\r"), UInt8(ascii: " "), 9].contains($0) }
            guard let size = Int(String(decoding: sizeBytes, as: UTF8.self), radix: 16) else { return nil }
            index = end + 1
            if size == 0 {
                // Trailer lines up to an empty one.
                while let trailerEnd = lineEnd(from: index) {
                    let empty = trailerEnd == index || (trailerEnd == index + 1 && bytes[index] == UInt8(ascii: "\r"))
                    index = trailerEnd + 1
                    if empty { return (index, data) }
                }
                return nil
            }
            guard bytes.endIndex - index >= size + 2 else { return nil }
            data += bytes[index..<index + size]
            index += size + 2
        }
        return nil
    }
}

/// Runs corpus cases against the gateway and a real Envoy configured alike: a direct response under
/// `/direct`, a redirect under `/moved`, a prefix rewrite `/old/` → `/new/`, a header match (`x-variant: b`,
/// rewritten under `/variant/`), and a catch-all to one echo backend that answers every request with the
/// request it received (or, for `/resp/<id>`, with a case's scripted answer, then closes).
enum ConformanceHarness {
    static let second = "GET /second HTTP/1.1\r\nhost: conformance\r\n\r\n"

    /// Serin's routes, as a VirtualService would say them.
    static func meshConfig(backendPort: Int) -> MeshConfig {
        let backend = [WeightedDestination(destination: Destination(host: "web-v1-service", port: 80), weight: 100)]
        let routes = [
            HTTPRoute(
                matches: [RequestMatch(uri: .prefix("/direct"))], destinations: [],
                directResponse: HTTPDirectResponse(status: 200, body: .string("direct\n"))
            ),
            HTTPRoute(matches: [RequestMatch(uri: .prefix("/moved"))], destinations: [], redirect: HTTPRedirect(uri: "/target")),
            HTTPRoute(matches: [RequestMatch(uri: .prefix("/old/"))], destinations: backend, rewrite: HTTPRewrite(uri: "/new/")),
            HTTPRoute(
                matches: [RequestMatch(uri: .prefix("/"), headers: ["x-variant": .exact("b")])], destinations: backend,
                rewrite: HTTPRewrite(uri: "/variant/")
            ),
        ]
        var config = SeedMesh.config(endpoints: ["web-v1-service": backendPort], uriMatch: nil)
        config.virtualServices[0].http = routes + config.virtualServices[0].http
        return config
    }

    /// Envoy's equivalent `static_resources`; `codec`: what its listener speaks (`HTTP1`, or `HTTP2` with prior
    /// knowledge, as the gateway's port also takes).
    static func envoyResources(listenerPort: Int, backendPort: Int, codec: String = "HTTP1") -> String {
        """
        static_resources:
          listeners:
          - name: conformance
            address:
              socket_address: { address: 127.0.0.1, port_value: \(listenerPort) }
            filter_chains:
            - filters:
              - name: envoy.filters.network.http_connection_manager
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                  stat_prefix: conformance
                  codec_type: \(codec)
                  http_protocol_options: { accept_http_10: true }
                  # Istio's path normalization (meshConfig.pathNormalization DEFAULT): dot segments and unreserved
                  # escapes resolved, slashes not merged, an escaped slash kept.
                  normalize_path: true
                  merge_slashes: false
                  path_with_escaped_slashes_action: KEEP_UNCHANGED
                  route_config:
                    name: conformance
                    virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                      - match: { prefix: "/direct" }
                        direct_response: { status: 200, body: { inline_string: "direct\\n" } }
                      - match: { prefix: "/moved" }
                        redirect: { path_redirect: "/target", response_code: MOVED_PERMANENTLY }
                      - match: { prefix: "/old/" }
                        route: { cluster: backend, prefix_rewrite: "/new/" }
                      - match: { prefix: "/", headers: [{ name: x-variant, string_match: { exact: b } }] }
                        route: { cluster: backend, prefix_rewrite: "/variant/" }
                      - match: { prefix: "/" }
                        route: { cluster: backend }
                  http_filters:
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
          clusters:
          - name: backend
            type: STATIC
            connect_timeout: 2s
            load_assignment:
              cluster_name: backend
              endpoints:
              - lb_endpoints:
                - endpoint:
                    address:
                      socket_address: { address: 127.0.0.1, port_value: \(backendPort) }
        """
    }

    /// The echo backend's answer once `received` holds a whole request, nil while it does not.
    static func echo(_ received: String, scripted: [String: String]) -> ScriptedBackend.Answer? {
        guard let headEnd = received.range(of: "\r\n\r\n") else { return nil }
        let head = received[..<headEnd.lowerBound].lowercased()
        let body = received[headEnd.upperBound...]
        if head.contains("transfer-encoding: chunked") {
            guard EchoedRequest.chunkedBody(Array(body.utf8)[...]) != nil else { return nil }
        } else if let line = head.components(separatedBy: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
            let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
        {
            guard body.utf8.count >= length else { return nil }
        }
        let target = received.split(separator: " ", maxSplits: 2).dropFirst().first.map(String.init) ?? ""
        if target.hasPrefix("/resp/"), let answer = scripted[String(target.dropFirst("/resp/".count))] {
            return .init(answer, close: true)
        }
        return .init("HTTP/1.1 200 OK\r\nx-echo: 1\r\ncontent-length: \(received.utf8.count)\r\n\r\n\(received)")
    }

    /// Sends `bytes` on a fresh connection to `port` and reads the answers, until two are read, the
    /// connection closes, or `quiet` passes without them.
    static func observe(
        bytes: [UInt8], answers: Int = 2, port: Int, group: any EventLoopGroup, quiet: Duration = .seconds(3)
    ) async -> ConformanceObservation {
        guard let raw = try? await RawConnection.connect(port: port, group: group) else { return ConformanceObservation(closed: true) }
        try? await raw.send(bytes: bytes)
        let deadline = ContinuousClock.now + quiet
        var observation = ConformanceObservation()
        while true {
            observation = parse(raw.received, closed: raw.isClosed)
            if raw.isClosed || ContinuousClock.now > deadline { break }
            if observation.statuses.count >= answers {
                // A close that follows the last answer belongs to it: after an error it comes, though not at once.
                let wait: Duration = (observation.statuses.last ?? 0) >= 400 ? .seconds(1) : .milliseconds(100)
                _ = await raw.waitForClose(timeout: wait)
                observation = parse(raw.received, closed: raw.isClosed)
                break
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        observation.closed = raw.isClosed
        await raw.close()
        return observation
    }

    /// The answers in `text`, each framed as RFC 9112 §6.3 says (the requests were not HEAD).
    static func parse(_ text: String, closed: Bool) -> ConformanceObservation {
        var observation = ConformanceObservation()
        var rest = Substring(text)
        while observation.statuses.count < 2, let headEnd = rest.range(of: "\r\n\r\n") {
            let lines = rest[..<headEnd.lowerBound].components(separatedBy: "\r\n")
            let statusLine = lines[0].split(separator: " ")
            guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/"), let status = Int(statusLine[1]) else { break }
            var fields: [String: String] = [:]
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            let afterHead = rest[headEnd.upperBound...]
            if status < 200 {
                observation.informational = true
                rest = afterHead
                continue
            }
            let body: Substring
            if status == 204 || status == 304 {
                body = ""
                rest = afterHead
            } else if fields["transfer-encoding"]?.lowercased().contains("chunked") == true {
                let bytes = Array(afterHead.utf8)
                guard let chunked = EchoedRequest.chunkedBody(bytes[...]) else { break }
                body = Substring(String(decoding: chunked.data, as: UTF8.self))
                rest = Substring(String(decoding: bytes[chunked.end...], as: UTF8.self))
            } else if let length = fields["content-length"].flatMap({ Int($0) }) {
                let bytes = Array(afterHead.utf8)
                guard bytes.count >= length else { break }
                body = Substring(String(decoding: bytes[..<length], as: UTF8.self))
                rest = Substring(String(decoding: bytes[length...], as: UTF8.self))
            } else {
                guard closed else { break }
                body = afterHead
                rest = ""
            }
            if fields["x-echo"] == "1", let echoed = EchoedRequest(echo: String(body)) {
                if observation.statuses.isEmpty {
                    observation.upstream = echoed
                } else {
                    observation.secondAnswered = echoed.target == "/second"
                }
            }
            observation.statuses.append(status)
        }
        return observation
    }
}

extension String {
    fileprivate func ifEmpty(_ replacement: String) -> String { isEmpty ? replacement : self }
}
