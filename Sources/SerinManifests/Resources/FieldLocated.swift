import SerinCore

/// Something read from a YAML document that knows where the document and each field it read were written.
public protocol FieldLocated {
    /// The start of the YAML document.
    var location: SourceLocation { get }
    /// Field path (`spec.http[0].route[1].weight`) → location of its value, for every field read.
    var fieldLocations: [String: SourceLocation] { get }
}

extension FieldLocated {
    /// The location of the field at `path`, or of the document when the field was not written.
    public func location(of path: String) -> SourceLocation {
        fieldLocations[path] ?? location
    }
}
