import NIOHTTP1
import SerinCore

/// Header rewriting a reverse proxy owes both sides: hop-by-hop removal and forwarding headers.
enum ProxyHeaders {
    /// RFC 9110 §7.6.1: connection-specific headers apply to one hop only and must not be forwarded.
    /// `proxy-connection` is not standard but old clients send it; `transfer-encoding` is re-derived by
    /// NIO's encoders from the body we actually stream.
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
        "te", "trailer", "transfer-encoding", "upgrade",
    ]

    /// Removes hop-by-hop headers, including any the `Connection` header names.
    ///
    /// The common request has none: one pass of byte comparisons finds that, with no copy and no
    /// `lowercased()` per header.
    static func stripHopByHop(_ headers: inout HTTPHeaders) {
        guard headers.contains(where: { isHopByHop($0.name) }) else { return }
        var named: [String] = []
        for value in headers[canonicalForm: "connection"] {
            named.append(value.lowercased())
        }
        headers.remove(where: { isHopByHop($0.name) || named.contains($0.name.lowercased()) })
    }

    /// Whether `name` is one of `hopByHop`, compared without allocating.
    static func isHopByHop(_ name: String) -> Bool {
        let length = name.utf8.count
        guard length >= 2 && length <= 19 else { return false }
        return hopByHopNames.contains { $0.count == length && ASCII.equal(name.utf8, $0, ignoringCase: true) }
    }

    private static let hopByHopNames: [[UInt8]] = hopByHop.map { Array($0.utf8) }

    /// The request as it goes upstream: hop-by-hop stripped, `x-forwarded-for` appended,
    /// `x-forwarded-proto` set, and an `x-request-id` generated when the client sent none.
    static func upstreamRequest(
        _ head: HTTPRequestHead, clientAddress: String?, requestID: () -> String
    ) -> HTTPRequestHead {
        var head = head
        stripHopByHop(&head.headers)
        if let clientAddress {
            if let existing = head.headers.first(name: "x-forwarded-for") {
                head.headers.replaceOrAdd(name: "x-forwarded-for", value: "\(existing), \(clientAddress)")
            } else {
                head.headers.add(name: "x-forwarded-for", value: clientAddress)
            }
        }
        if !head.headers.contains(name: "x-forwarded-proto") {
            head.headers.add(name: "x-forwarded-proto", value: "http")
        }
        if !head.headers.contains(name: "x-request-id") {
            head.headers.add(name: "x-request-id", value: requestID())
        }
        // Upstream connections are pooled and kept alive whatever the client asked for.
        head.version = .http1_1
        return head
    }

    /// The response as it goes back to the client: hop-by-hop stripped, keep-alive as the client wants.
    static func downstreamResponse(_ head: HTTPResponseHead, version: HTTPVersion, keepAlive: Bool) -> HTTPResponseHead {
        var head = head
        stripHopByHop(&head.headers)
        head.version = version
        if !keepAlive {
            head.headers.add(name: "connection", value: "close")
        } else if version == .http1_0 {
            head.headers.add(name: "connection", value: "keep-alive")
        }
        return head
    }
}

extension HTTPHeaders {
    /// NIO's `HTTPHeaders` has no predicate removal; this keeps the rest in order.
    mutating func remove(where shouldRemove: (_ header: (name: String, value: String)) -> Bool) {
        let kept = self.filter { !shouldRemove($0) }
        guard kept.count != self.count else { return }
        self = HTTPHeaders(kept)
    }
}
