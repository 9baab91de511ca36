import Foundation

extension Error {
    /// A decoding failure as one line a person can act on (`status.canaryWeight: canaryWeight is 140,
    /// expected 0 to 100`), instead of Foundation's nested dump of coding paths.
    public var readableDecodingFailure: String {
        guard let error = self as? DecodingError else { return String(describing: self) }
        func at(_ context: DecodingError.Context, _ extra: (any CodingKey)? = nil) -> String {
            let keys = context.codingPath + [extra].compactMap { $0 }
            // `releases[0].canary`: an index follows its array without a dot.
            let path = keys.enumerated().map { index, key in
                key.intValue.map { "[\($0)]" } ?? (index == 0 ? key.stringValue : ".\(key.stringValue)")
            }
            return keys.isEmpty ? "the top level" : path.joined()
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "\(at(context, key)) is missing"
        case .valueNotFound(let type, let context):
            return "\(at(context)) is null, expected \(type)"
        case .typeMismatch(let type, let context):
            return "\(at(context)) is not \(type)"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty, let underlying = context.underlyingError {
                return "not valid JSON: \((underlying as NSError).localizedDescription)"
            }
            return "\(at(context)): \(context.debugDescription)"
        @unknown default:
            return String(describing: error)
        }
    }
}
