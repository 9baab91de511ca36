import ArgumentParser
import SerinCore

/// Who the mesh listener is the sidecar of, for VirtualService matches that name source workloads (`sourceLabels`,
/// `sourceNamespace`): in Istio each sidecar applies only the matches naming its own pod's labels and namespace.
struct MeshWorkloadOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The labels of the workload the mesh listener is the sidecar of (app=productpage,version=v2): a mesh route's match with sourceLabels applies only when they are among these, as at that workload's Istio sidecar. None unless given.",
        valueName: "key=value,..."
    ), transform: Self.parseLabels)
    var meshLabels: [String: String] = [:]

    @Option(help: ArgumentHelp("The namespace of that workload, for matches with sourceNamespace.", valueName: "namespace"))
    var meshNamespace: String = ResourceName.defaultNamespace

    var workload: SourceWorkload { SourceWorkload(labels: meshLabels, namespace: meshNamespace) }

    /// Whether either option was written, which only the mesh reads.
    var isWritten: Bool { !meshLabels.isEmpty || meshNamespace != ResourceName.defaultNamespace }

    func validate() throws {
        guard ResourceName.isLabel(meshNamespace) else {
            throw ValidationError(
                "--mesh-namespace must be a Kubernetes namespace (a-z, 0-9 and '-', starting and ending with a letter or digit, "
                    + "at most 63 characters), got \"\(meshNamespace)\"")
        }
    }

    /// `key=value` pairs separated by commas, as `kubectl label` and `kubectl get -l` write them; a key is
    /// `[prefix/]name`, and a name or value (which may be empty) is at most 63 letters, digits, '-', '_' and '.',
    /// starting and ending with a letter or digit.
    static func parseLabels(_ argument: String) throws -> [String: String] {
        var labels: [String: String] = [:]
        for (index, pair) in argument.split(separator: ",", omittingEmptySubsequences: false).enumerated() {
            let place = "label \(index + 1) of \"\(argument)\""
            guard let equals = pair.firstIndex(of: "=") else {
                throw ValidationError("expected key=value pairs separated by commas (app=reviews,version=v2); \(place) is \"\(pair)\", with no '='")
            }
            let key = pair[..<equals].trimmingSpaces
            let value = pair[pair.index(after: equals)...].trimmingSpaces
            let parts = key.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            let name = parts.last ?? ""
            let prefix = parts.count == 2 ? String(parts[0]) : nil
            guard isLabelText(name, allowEmpty: false), prefix.map(ResourceName.isSubdomain) ?? true else {
                throw ValidationError(
                    "\(place): key \"\(key)\" is not a label key ([prefix/]name: a name of at most 63 letters, digits, '-', '_' "
                        + "and '.', starting and ending with a letter or digit; a prefix a DNS subdomain)")
            }
            guard isLabelText(value, allowEmpty: true) else {
                throw ValidationError(
                    "\(place): value \"\(value)\" is not a label value (at most 63 letters, digits, '-', '_' and '.', starting and "
                        + "ending with a letter or digit)")
            }
            guard labels.updateValue(String(value), forKey: String(key)) == nil else {
                throw ValidationError("\(place): key \"\(key)\" is given twice")
            }
        }
        return labels
    }

    private static func isLabelText(_ text: Substring, allowEmpty: Bool) -> Bool {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, let last = bytes.last else { return allowEmpty }
        let alphanumeric: (UInt8) -> Bool = { (0x61...0x7A).contains($0) || (0x41...0x5A).contains($0) || (0x30...0x39).contains($0) }
        return bytes.count <= 63 && alphanumeric(first) && alphanumeric(last)
            && bytes.allSatisfy { alphanumeric($0) || $0 == 0x2D || $0 == 0x5F || $0 == 0x2E }
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var text = self
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return text
    }
}
