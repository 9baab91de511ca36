#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix

/// A failed connection or request as a person reads it: "connection refused", not SwiftNIO's
/// "connection reset (error set): Connection refused (errno: 111)", which names a reset that did not happen.
public enum TransportErrorText {
    public static func describe(_ error: any Error) -> String {
        switch error {
        case let error as NIOConnectionError:
            if let dns = error.dnsAError ?? error.dnsAAAAError { return "cannot resolve \(error.host): \(describe(dns))" }
            // Every address tried failed; the reasons are said once each, in the order they came.
            var reasons: [String] = []
            for failure in error.connectionErrors where !reasons.contains(describe(failure.error)) {
                reasons.append(describe(failure.error))
            }
            return reasons.isEmpty ? "cannot connect to \(error.host):\(error.port)" : reasons.joined(separator: "; ")
        case let error as IOError:
            guard let text = strerror(error.errnoCode).map({ String(cString: $0) }) else { return "\(error)" }
            // strerror's sentence, as the middle of ours: "Connection refused" → "connection refused".
            return text.prefix(1).lowercased() + text.dropFirst()
        case let error as SocketAddressError.UnknownHost:
            // getaddrinfo's sentence, as the middle of ours: "Name or service not known" → "name or service not known".
            return error.errorDescription.prefix(1).lowercased() + error.errorDescription.dropFirst()
        case ChannelError.connectTimeout(let limit):
            return "no connection within \(limit.nanoseconds / 1_000_000)ms"
        default:
            return "\(error)"
        }
    }

    /// Whether `error` means nothing answered at the address (refused, unresolvable, no answer to the connect),
    /// as opposed to a failure after something did.
    public static func isUnreachable(_ error: any Error) -> Bool {
        switch error {
        case is NIOConnectionError, ChannelError.connectTimeout: true
        case let error as IOError: error.errnoCode != ECONNRESET && error.errnoCode != EPIPE
        default: false
        }
    }
}
