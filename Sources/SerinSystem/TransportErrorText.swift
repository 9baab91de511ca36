#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// A failed connection or request as a person reads it: "connection refused", not SwiftNIO's
/// "connection reset (error set): Connection refused (errno: 111)", which names a reset that did not happen.
public enum TransportErrorText {
    public static func describe(_ error: any Error) -> String {
        guard let error = error as? IOError else { return "\(error)" }
        guard let text = strerror(error.errnoCode).map({ String(cString: $0) }) else { return "\(error)" }
        // strerror's sentence, as the middle of ours: "Connection refused" → "connection refused".
        return text.prefix(1).lowercased() + text.dropFirst()
    }
}
