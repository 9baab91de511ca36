/// The text of one manifest file and the path to print in messages about it.
public struct ManifestSource: Sendable, Codable, Hashable {
    public var path: String
    public var text: String

    public init(path: String, text: String) {
        self.path = path
        self.text = text
    }
}
