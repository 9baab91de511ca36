/// Identifies a namespaced resource the way Kubernetes does: `namespace/name`.
public struct ResourceName: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public var namespace: String
    public var name: String

    public static let defaultNamespace = "default"

    public init(namespace: String = ResourceName.defaultNamespace, name: String) {
        self.namespace = namespace
        self.name = name
    }

    /// Resolves a reference such as `web-gateway` or `istio-system/web-gateway`
    /// written inside a resource living in `namespace`.
    public init(reference: String, relativeTo namespace: String) {
        if let slash = reference.firstIndex(of: "/") {
            self.namespace = String(reference[..<slash])
            self.name = String(reference[reference.index(after: slash)...])
        } else {
            self.namespace = namespace
            self.name = reference
        }
    }

    public var description: String { "\(namespace)/\(name)" }

    /// How events and log lines name it: NAME in the default namespace, NAMESPACE/NAME elsewhere (two namespaces
    /// may each have a `web`), as kubectl leaves out the default one.
    public var displayName: String { namespace == Self.defaultNamespace ? name : description }

    /// `message` as it names this resource first (`web: …`, as events do), with `displayName` there instead.
    public func qualifying(_ message: String) -> String {
        guard namespace != Self.defaultNamespace, message.hasPrefix("\(name): ") else { return message }
        return displayName + message.dropFirst(name.count)
    }

    /// `message` without the `NAME: ` an event about the resource named `name` starts with (`web: advance canary
    /// weight to 20%`), where what it says goes after another line that names it already.
    public static func unqualified(_ message: String, name: String) -> String {
        message.hasPrefix("\(name): ") ? String(message.dropFirst(name.count + 2)) : message
    }

    public static func < (lhs: ResourceName, rhs: ResourceName) -> Bool {
        (lhs.namespace, lhs.name) < (rhs.namespace, rhs.name)
    }
}

extension ResourceName {
    /// Istio's reserved gateway name for the sidecars of every workload: a VirtualService or match listing it
    /// applies inside the mesh.
    public static let mesh = ResourceName(namespace: "", name: "mesh")
}

extension ResourceName {
    /// A lowercase RFC 1123 subdomain, as Kubernetes requires of most objects' names: what a URL path, a label and
    /// `serin pause NAME` carry without quoting.
    public static func isSubdomain(_ text: String) -> Bool {
        guard (1...253).contains(text.utf8.count) else { return false }
        return text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy(isLabelShaped)
    }

    /// A lowercase RFC 1123 label, as Kubernetes requires of a namespace: a-z, 0-9 and '-', starting and ending with a
    /// letter or digit, at most 63 characters.
    public static func isLabel(_ text: some StringProtocol) -> Bool {
        text.utf8.count <= 63 && isLabelShaped(text)
    }

    /// A label's characters, of any length but empty: each part of a subdomain, which Kubernetes bounds as a whole
    /// (253 characters), not part by part.
    private static func isLabelShaped(_ text: some StringProtocol) -> Bool {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, let last = bytes.last else { return false }
        let alphanumeric: (UInt8) -> Bool = { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) }
        return alphanumeric(first) && alphanumeric(last) && bytes.allSatisfy { alphanumeric($0) || $0 == 0x2D }
    }
}
