import SerinCore

extension ManifestDecoder {
    /// The top-level fields a Secret has in place of `spec`.
    static let secretSchema = Schema(
        known: ["apiVersion", "kind", "metadata", "type", "data", "stringData"], ignored: ["immutable"]
    )

    /// A Secret's `data` (base64, as Kubernetes stores it) and `stringData` (plain text, written over `data`).
    /// A bad value is reported by its key and never quoted.
    static func secret(_ fields: Fields, name: ResourceName, reader: DocumentReader) -> KubernetesSecret? {
        let type = fields["type"].flatMap(reader.string) ?? KubernetesSecret.defaultType
        var data: [String: [UInt8]] = [:]
        if let dataField = fields["data"], let entries = reader.entries(dataField) {
            for (key, field) in entries {
                guard let text = reader.string(field) else { continue }
                guard let bytes = Base64.decode(text) else {
                    reader.error("\(field.path): expected base64 (as Kubernetes stores Secret data), got text that is not", at: field.node)
                    continue
                }
                data[key] = bytes
            }
        }
        if let stringDataField = fields["stringData"], let entries = reader.entries(stringDataField) {
            for (key, field) in entries {
                guard let text = reader.string(field) else { continue }
                data[key] = Array(text.utf8)
            }
        }
        return KubernetesSecret(name: name, type: type, data: data)
    }
}

/// RFC 4648 base64, as Kubernetes encodes Secret data: the standard alphabet, `=` padding, whitespace ignored.
enum Base64 {
    static func decode(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        var accumulator: UInt32 = 0
        var bits = 0
        var padding = 0
        for character in text.utf8 {
            let value: UInt8
            switch character {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = character - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = character - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = character - UInt8(ascii: "0") + 52
            case UInt8(ascii: "+"): value = 62
            case UInt8(ascii: "/"): value = 63
            case UInt8(ascii: "="):
                padding += 1
                continue
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): continue
            default: return nil
            }
            guard padding == 0 else { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                bytes.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        // Leftover bits must be the zero padding of the last quantum: 2 or 4 bits, never 6.
        guard bits != 6, padding <= 2, accumulator & ((1 << UInt32(bits)) - 1) == 0 || bits == 0 else { return nil }
        return bytes
    }
}
