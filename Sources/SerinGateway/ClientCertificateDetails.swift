import Crypto
import NIOSSL
import SwiftASN1
import X509

/// The `x-forwarded-client-cert` value a backend behind a MUTUAL or OPTIONAL_MUTUAL server gets for the client's
/// verified certificate, as Istio's gateways set it (Envoy's `SANITIZE_SET` with the subject, URI and DNS details):
/// `Hash=<SHA-256 of the DER, hex>;Subject="<RFC 4514>";URI=<first URI SAN>;DNS=<each DNS SAN>`. Made once per
/// connection, when its handshake ends; the client's own field of that name never goes on (`ProxyHeaders`).
enum ClientCertificateDetails {
    static func header(for certificate: NIOSSLCertificate) -> String? {
        guard let der = try? certificate.toDERBytes() else { return nil }
        var parts = ["Hash=" + hex(Array(SHA256.hash(data: der)))]
        guard let parsed = try? Certificate(derEncoded: der) else { return parts[0] }
        parts.append("Subject=\"" + quoted(parsed.subject.description) + "\"")
        if let names = try? parsed.extensions.subjectAlternativeNames {
            if let uri = names.lazy.compactMap({ name -> String? in
                if case .uniformResourceIdentifier(let uri) = name { return uri }
                return nil
            }).first {
                parts.append("URI=" + uri)
            }
            for name in names {
                if case .dnsName(let dns) = name { parts.append("DNS=" + dns) }
            }
        }
        return parts.joined(separator: ";")
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// A value inside the field's double quotes: a quote or backslash in it escaped with a backslash.
    private static func quoted(_ value: String) -> String {
        var out = ""
        for character in value {
            if character == "\"" || character == "\\" { out.append("\\") }
            out.append(character)
        }
        return out
    }
}
