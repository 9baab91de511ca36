import NIOCore
import NIOSSL
import SerinCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The names an endpoint's certificate must carry one of, checked once its chain is verified. A chain alone lets any
/// certificate the CA signed stand in for any service — with the system's roots, any public site's for yours — so
/// Istio has Envoy check names too: a DestinationRule's `subjectAltNames`, else (no `sni` either) the host the
/// request is for. `ClientTLS.verifiedNames(host:)` says which apply.
struct UpstreamCertificateNames: Hashable, Sendable {
    /// Any one of these will do.
    let names: [String]
    /// Whether they are `subjectAltNames` (the DestinationRule's, or its ServiceEntry's), rather than the request's host.
    let written: Bool

    /// A subject alternative name a certificate presents.
    enum Presented: Hashable, Sendable, CustomStringConvertible {
        case dns(String)
        case uri(String)
        case ip([UInt8])
        case email(String)

        var description: String {
            switch self {
            case .dns(let name), .uri(let name), .email(let name): return name
            case .ip(let bytes): return UpstreamCertificateNames.text(ofAddress: bytes) ?? "an IP address"
            }
        }
    }

    init?(_ tls: ClientTLS?, host: String) {
        guard let tls, let names = tls.verifiedNames(host: host) else { return nil }
        self.names = names
        written = !tls.subjectAltNames.isEmpty
    }

    init(names: [String], written: Bool) {
        self.names = names
        self.written = written
    }

    /// Whether one of the certificate's names is one of ours: an IP address to an IP address, byte for byte; a DNS
    /// name case-insensitively, a certificate's `*.example.com` standing for one label (`api.example.com`, not
    /// `example.com` or `a.b.example.com`), as Envoy matches DNS names; a URI or an e-mail address exactly.
    func admits(_ presented: [Presented]) -> Bool {
        names.contains { name in
            if let address = Self.address(name) { return presented.contains(.ip(address)) }
            return presented.contains { candidate in
                switch candidate {
                case .dns(let pattern): return Self.dnsName(pattern, matches: name)
                case .uri(let uri), .email(let uri): return uri == name
                case .ip: return false
                }
            }
        }
    }

    /// Checks `certificate` (the verified leaf): succeeds when it names one of ours, else fails with the names it has.
    func verify(_ certificate: NIOSSLCertificate, on loop: any EventLoop) -> EventLoopFuture<Void> {
        let presented = Self.names(of: certificate)
        guard admits(presented) else {
            return loop.makeFailedFuture(UpstreamCertificateMismatch(presented: presented.map(\.description), expected: self))
        }
        return loop.makeSucceededVoidFuture()
    }

    static func names(of certificate: NIOSSLCertificate) -> [Presented] {
        certificate._subjectAlternativeNames().compactMap { name in
            let bytes = name.contents.withUnsafeBufferPointer { Array($0) }
            switch name.nameType {
            case .dnsName: return .dns(String(decoding: bytes, as: UTF8.self))
            case .uri: return .uri(String(decoding: bytes, as: UTF8.self))
            case .email: return .email(String(decoding: bytes, as: UTF8.self))
            case .ipAddress: return .ip(bytes)
            default: return nil
            }
        }
    }

    static func dnsName(_ pattern: String, matches name: String) -> Bool {
        let pattern = pattern.lowercased().trimmingTrailingDot
        let name = name.lowercased().trimmingTrailingDot
        guard pattern.hasPrefix("*.") else { return pattern == name }
        guard let dot = name.firstIndex(of: "."), dot != name.startIndex else { return false }
        return name[dot...] == pattern.dropFirst()
    }

    /// The bytes of an IPv4 or IPv6 literal; nil for a name.
    static func address(_ text: String) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: 16)
        if bytes.withUnsafeMutableBytes({ inet_pton(AF_INET, text, $0.baseAddress) }) == 1 { return Array(bytes.prefix(4)) }
        if bytes.withUnsafeMutableBytes({ inet_pton(AF_INET6, text, $0.baseAddress) }) == 1 { return bytes }
        return nil
    }

    static func text(ofAddress bytes: [UInt8]) -> String? {
        let family: Int32
        switch bytes.count {
        case 4: family = AF_INET
        case 16: family = AF_INET6
        default: return nil
        }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let written = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) }
        guard written != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// An endpoint whose certificate chain verified but names none of the names asked for: TLS never came up (`UF`).
struct UpstreamCertificateMismatch: Error, CustomStringConvertible {
    let presented: [String]
    let expected: UpstreamCertificateNames

    var description: String {
        let has = presented.isEmpty ? "no subject alternative name" : presented.joined(separator: ", ")
        let wanted = expected.names.joined(separator: " or ")
        let why =
            expected.written
            ? "the subjectAltNames of its DestinationRule or ServiceEntry"
            : "the request's host, checked as Istio does when tls has neither sni nor subjectAltNames"
        return "the endpoint's certificate names \(has), not \(wanted) (\(why))"
    }
}

extension String {
    fileprivate var trimmingTrailingDot: Substring { hasSuffix(".") ? dropLast() : self[...] }
}
