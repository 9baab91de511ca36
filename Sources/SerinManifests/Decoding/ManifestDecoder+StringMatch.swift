import SerinCore

extension ManifestDecoder {
    /// Where a StringMatch appears; Istio allows different forms in each place.
    enum StringMatchPlace {
        /// uri, scheme, method, authority: exactly one of exact, prefix, regex.
        case attribute
        /// headers and withoutHeaders: `{}` means the header is present.
        case header
        /// queryParams: no prefix.
        case queryParam
    }

    static func stringMatch(_ field: Field, place: StringMatchPlace, reader: DocumentReader) -> StringMatch? {
        guard let fields = reader.mapping(field, Schema(known: ["exact", "prefix", "regex"])) else { return nil }
        let set = ["exact", "prefix", "regex"].compactMap { key in fields[key].map { (key, $0) } }
        guard let (key, value) = set.first else {
            if place == .header { return .present }
            reader.error("\(field.path): expected one of exact, prefix or regex", at: field.node)
            return nil
        }
        guard set.count == 1 else {
            reader.error(
                "\(field.path): set only one of exact, prefix or regex, got \(set.map(\.0).joined(separator: " and "))",
                at: field.node
            )
            return nil
        }
        guard let text = reader.string(value) else { return nil }
        switch key {
        case "exact":
            return .exact(text)
        case "prefix":
            if place == .queryParam {
                reader.unsupported(
                    "\(value.path): Istio does not support prefix matches on queryParams; use exact or regex",
                    at: value.node
                )
            }
            return .prefix(text)
        default:
            do {
                return .regex(try RegexPattern(text))
            } catch {
                reader.error("\(value.path): invalid regex \"\(text)\": \(error)", at: value.node)
                return nil
            }
        }
    }

    /// headers, withoutHeaders, queryParams: name → StringMatch; header names are lower-cased.
    static func stringMatchMap(
        _ field: Field, place: StringMatchPlace, reader: DocumentReader
    ) -> [String: StringMatch]? {
        guard let entries = reader.entries(field) else { return nil }
        var result: [String: StringMatch] = [:]
        var complete = true
        for (key, child) in entries {
            guard let match = stringMatch(child, place: place, reader: reader) else {
                complete = false
                continue
            }
            result[place == .queryParam ? key : key.lowercased()] = match
        }
        return complete ? result : nil
    }
}
