import NIOCore
import NIOPosix
import NIOSSL
import SerinSystem

/// Why an upstream could not be reached, as the gateway's 503 body and its log say it to people: the system's words
/// for a socket error ("connection refused"), the TLS library's reason for a failed handshake
/// ("CERTIFICATE_VERIFY_FAILED"). A library's own description is neither: SwiftNIO's names its internal types, and
/// NIOSSL's names the source file of the build it came from, which a client has no business reading.
enum UpstreamErrorText {
    static func describe(_ error: any Error) -> String {
        switch error {
        case is NIOSSLError, is NIOSSLExtraError, is BoringSSLError:
            return "TLS handshake failed: \(tlsReason(error))"
        case let mismatch as UpstreamCertificateMismatch:
            return "TLS handshake failed: \(mismatch)"
        default:
            return TransportErrorText.describe(error)
        }
    }

    /// Whether `error` ended a connection whose TLS never came up: nothing reached the upstream's application, so
    /// it is a failure to connect (Envoy's `UF`), not a reset of a request the upstream may have seen. `fresh`: the
    /// connection carried no request before this one. Under TLS 1.3 a server that refuses the client's certificate
    /// says so with an alert after the client's side of the handshake is done (`TLSV1_ALERT_CERTIFICATE_REQUIRED`,
    /// a `BoringSSLError`): on a fresh connection that too is TLS that never came up.
    static func isHandshakeFailure(_ error: (any Error)?, fresh: Bool) -> Bool {
        switch error {
        case let error as NIOSSLError:
            if case .handshakeFailed = error { return true }
            return false
        case is NIOSSLExtraError, is UpstreamCertificateMismatch:
            return true
        case is BoringSSLError:
            return fresh
        default:
            return false
        }
    }

    /// BoringSSL's reason codes (`error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED at
    /// /path/handshake.cc:320` → `CERTIFICATE_VERIFY_FAILED`), else the description without its source locations.
    private static func tlsReason(_ error: any Error) -> String {
        let text = "\(error)"
        var reasons: [Substring] = []
        var rest = text[...]
        while let marker = rest.firstRange(of: "OPENSSL_internal:") {
            let reason = rest[marker.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "_" }
            if !reason.isEmpty, !reasons.contains(reason) { reasons.append(reason) }
            rest = rest[marker.upperBound...]
        }
        if !reasons.isEmpty { return reasons.joined(separator: ", ") }
        // No reason code: keep the words, drop every " at /file:line".
        var words = ""
        var remaining = text[...]
        while let at = remaining.firstRange(of: " at /") {
            words += remaining[..<at.lowerBound]
            remaining = remaining[at.upperBound...].drop { $0 != "]" && $0 != ")" && $0 != "," }
        }
        return words + remaining
    }
}

/// The upstream reset an HTTP/2 stream before its answer began: a reset, as a closed HTTP/1 connection is
/// (`503 UC`, retried on `reset`), not a malformed answer.
struct UpstreamStreamReset: Error, CustomStringConvertible {
    let code: String
    var description: String { "the upstream reset the HTTP/2 stream (\(code))" }
}

/// The upstream never processed the HTTP/2 stream: it refused it (RST_STREAM REFUSED_STREAM), or its connection's
/// GOAWAY named an earlier last stream. Safe to send again, and retried on `refused-stream`, as Envoy does.
struct UpstreamStreamRefused: Error, CustomStringConvertible {
    /// Why: a server ending a connection that carried earlier streams still takes streams on a new one.
    let refusal: ProxyStateMachine.StreamRefusal
    var description: String { "the upstream refused the HTTP/2 stream (it was going away, or at its limit of streams)" }
}
