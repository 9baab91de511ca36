import SerinCore
import Yams

extension DocumentReader {
    /// A duration of at least 1ms, as Istio requires of timeouts, delays and intervals; Istio's decimals
    /// (`0.5s`) are accepted down to whole milliseconds.
    func positiveDuration(_ field: Field) -> Duration? {
        let expected = "a duration like 500ms, 0.5s or 1m"
        guard case .scalar(let scalar) = field.node, field.node.tagName == .str else {
            typeMismatch(field, expected: expected)
            return nil
        }
        guard let value = DurationText.parse(scalar.string, allowingFractions: true) else {
            error("\(field.path): expected \(expected), got \"\(scalar.string)\"", at: field.node)
            return nil
        }
        guard value > .zero else {
            error("\(field.path): expected a duration of at least 1ms, got \"\(scalar.string)\"", at: field.node)
            return nil
        }
        return value
    }

    /// A count, 0 included.
    func count(_ field: Field) -> Int? {
        guard let value = int(field) else { return nil }
        guard value >= 0 else {
            error("\(field.path): expected 0 or more, got \(value)", at: field.node)
            return nil
        }
        return value
    }

    /// A whole percentage from 0 to 100 (`maxEjectionPercent`, the deprecated `percent` fields).
    func percent(_ field: Field) -> Int? {
        guard let value = int(field) else { return nil }
        guard (0...100).contains(value) else {
            error("\(field.path): expected a percentage from 0 to 100, got \(value)", at: field.node)
            return nil
        }
        return value
    }

    /// Istio's `Percent`, `{value: 12.5}`: 0 when `value` is omitted, otherwise 0 or from 0.0001 (one request
    /// in a million, the finest share Envoy draws) to 100.
    func percentage(_ field: Field) -> Percent? {
        guard let fields = mapping(field, Schema(known: ["value"])) else { return nil }
        guard let valueField = fields["value"] else { return Percent.none }
        guard let value = number(valueField) else { return nil }
        let written = valueField.node.string ?? "\(value)"
        if !(0...100).contains(value) {
            error("\(valueField.path): expected a percentage from 0 to 100, got \(written)", at: valueField.node)
            return nil
        }
        if value > 0 && value < 0.0001 {
            error(
                "\(valueField.path): expected 0 or at least 0.0001 (one request in a million), got \(written)",
                at: valueField.node
            )
            return nil
        }
        return Percent(value)
    }

    /// A status Istio accepts for an abort or a direct response: 200 to 599.
    func httpStatus(_ field: Field) -> Int? {
        guard let value = int(field) else { return nil }
        guard (200...599).contains(value) else {
            error("\(field.path): expected an HTTP status from 200 to 599, got \(value)", at: field.node)
            return nil
        }
        return value
    }
}
