import SerinCore
import Yams

/// Turns manifest text (YAML or JSON, many documents per file) into typed resources, reporting every
/// problem with its file, line and column instead of stopping at the first.
public enum ManifestDecoder {
    /// Decodes every document of every source, in order. Unknown kinds are skipped with a warning;
    /// a malformed document yields diagnostics and no resource; a YAML syntax error ends its file.
    public static func decode(
        _ sources: [ManifestSource]
    ) -> (resources: [LocatedResource], diagnostics: [Diagnostic], unread: [UnreadResource]) {
        var resources: [LocatedResource] = []
        var diagnostics: [Diagnostic] = []
        var unread: [UnreadResource] = []
        for source in sources {
            let (documents, syntaxError) = parse(source)
            for document in documents where !document.isNull {
                let (resource, found, named) = decodeDocument(document, file: source.path, text: source.text)
                diagnostics += found
                if let resource { resources.append(resource) }
                if let named { unread.append(named) }
            }
            if let syntaxError { diagnostics.append(syntaxError) }
        }
        return (resources, diagnostics, unread)
    }

    /// The documents of a file up to the first syntax error, and that error.
    static func parse(_ source: ManifestSource) -> (documents: [Node], error: Diagnostic?) {
        var documents: [Node] = []
        do {
            let parser = try Parser(yaml: source.text, resolver: ScalarTags.resolver)
            while let document = try parser.nextRoot() {
                documents.append(document)
            }
            return (documents, nil)
        } catch let error as YamlError {
            return (documents, syntaxDiagnostic(error, source: source))
        } catch {
            return (documents, .error("YAML syntax error: \(error)", at: SourceLocation(file: source.path, line: 1, column: 1)))
        }
    }

    /// One document: header (apiVersion, kind, metadata), then the kind's spec.
    /// The third value names a resource whose kind and name were read but whose body has errors.
    static func decodeDocument(_ document: Node, file: String, text: String? = nil) -> (LocatedResource?, [Diagnostic], UnreadResource?) {
        let reader = DocumentReader(file: file, text: text)
        let root = Field(node: document, path: "")
        guard case .mapping = document else {
            reader.error("expected a resource (a mapping with apiVersion and kind), got \(document.valueDescription)", at: document)
            return (nil, reader.diagnostics, nil)
        }
        guard let header = header(of: root, reader: reader) else { return (nil, reader.diagnostics, nil) }
        let schema = header.kind == .secret ? secretSchema : Schema(known: ["apiVersion", "kind", "metadata", "spec"], ignored: ["status"])
        guard let fields = reader.mapping(root, schema), let name = metadataName(fields, reader: reader) else {
            return (nil, reader.diagnostics, nil)
        }
        if header.kind.legacyAPIVersions.contains(header.apiVersion), let current = header.kind.currentAPIVersions.first {
            reader.warning(
                "\(header.kind.rawValue) \(name.name) uses \(header.apiVersion), which Kubernetes removed in 1.16; use \(current)",
                at: document
            )
        }
        let resource = decodeSpec(header, name: name, fields: fields, reader: reader)
        guard let resource, !reader.isMalformed else {
            let firstError = reader.diagnostics.first { $0.severity == .error }?.location
            var unread = UnreadResource(kind: header.kind, name: name, location: firstError ?? reader.location(of: document))
            if header.kind == .canary, let spec = fields["spec"] {
                unread.canaryReferences = canaryReferences(
                    spec, name: name, document: reader.location(of: document), reader: DocumentReader(file: file, text: text))
            }
            return (nil, reader.diagnostics, unread)
        }
        let located = LocatedResource(
            resource: resource, apiVersion: header.apiVersion, location: reader.location(of: document),
            fieldLocations: reader.fieldLocations
        )
        return (located, reader.diagnostics, nil)
    }

    /// apiVersion and kind, when Serin understands the pair; nil (with a diagnostic) otherwise.
    private static func header(of root: Field, reader: DocumentReader) -> (kind: ResourceKind, apiVersion: String)? {
        guard case .mapping(let mapping) = root.node else { return nil }
        let apiVersionField = mapping["apiVersion"].map { root.child("apiVersion", $0) }
        let kindField = mapping["kind"].map { root.child("kind", $0) }
        guard let apiVersionField, let kindField else {
            let missing = [apiVersionField == nil ? "apiVersion" : nil, kindField == nil ? "kind" : nil].compactMap { $0 }
            reader.error("\(missing.joined(separator: " and ")) \(missing.count == 1 ? "is" : "are") required", at: root.node)
            return nil
        }
        guard let apiVersion = reader.string(apiVersionField), let kindText = reader.string(kindField) else { return nil }
        guard let kind = ResourceKind(rawValue: kindText), kind.accepts(apiVersion: apiVersion) else {
            reader.skipped(kind: kindText, skipMessage(kind: kindText, apiVersion: apiVersion), at: root.node)
            return nil
        }
        return (kind, apiVersion)
    }

    static func skipMessage(kind: String, apiVersion: String) -> String {
        var message = "skipped: kind \(kind) (\(apiVersion)) is not understood by Serin"
        if let known = ResourceKind(rawValue: kind) {
            message += " (it reads \(kind) from \(known.currentAPIVersions.joined(separator: ", ")))"
        } else if let guess = Spelling.suggestion(for: kind, among: ResourceKind.allCases.map(\.rawValue)) {
            message += " (did you mean \(guess)?)"
        }
        return message
    }

    /// metadata.name and metadata.namespace (default `default`).
    private static func metadataName(_ fields: Fields, reader: DocumentReader) -> ResourceName? {
        guard let metadataField = reader.required("metadata", in: fields) else { return nil }
        let schema = Schema(
            known: ["name", "namespace"],
            ignored: [
                "labels", "annotations", "uid", "resourceVersion", "generation", "creationTimestamp",
                "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "ownerReferences",
                "finalizers", "generateName", "selfLink",
            ]
        )
        guard let metadata = reader.mapping(metadataField, schema),
            let nameField = reader.required("name", in: metadata),
            let name = reader.string(nameField)
        else { return nil }
        guard !name.isEmpty else {
            reader.error("metadata.name must not be empty", at: nameField.node)
            return nil
        }
        guard ResourceName.isSubdomain(name) else {
            reader.error("metadata.name \"\(name)\" is not a name Kubernetes accepts: expected a lowercase RFC 1123 subdomain "
                + "(a-z, 0-9, '-' and '.', starting and ending with a letter or digit, at most 253 characters)", at: nameField.node)
            return nil
        }
        var namespace = ResourceName.defaultNamespace
        if let namespaceField = metadata["namespace"], let written = reader.string(namespaceField) {
            guard ResourceName.isLabel(written) else {
                reader.error("metadata.namespace \"\(written)\" is not a namespace Kubernetes accepts: expected a lowercase RFC 1123 label "
                    + "(a-z, 0-9 and '-', starting and ending with a letter or digit, at most 63 characters)", at: namespaceField.node)
                return nil
            }
            namespace = written
        }
        return ResourceName(namespace: namespace, name: name)
    }

    private static func decodeSpec(
        _ header: (kind: ResourceKind, apiVersion: String), name: ResourceName, fields: Fields, reader: DocumentReader
    ) -> Resource? {
        if header.kind == .secret { return secret(fields, name: name, reader: reader).map(Resource.secret) }
        guard let specField = reader.required("spec", in: fields) else { return nil }
        switch header.kind {
        case .secret: return nil
        case .gateway:
            return gateway(specField, name: name, reader: reader).map(Resource.gateway)
        case .virtualService:
            return virtualService(specField, name: name, reader: reader).map(Resource.virtualService)
        case .destinationRule:
            return destinationRule(specField, name: name, reader: reader).map(Resource.destinationRule)
        case .serviceEntry:
            return serviceEntry(specField, name: name, reader: reader).map(Resource.serviceEntry)
        case .service:
            return service(specField, name: name, reader: reader).map(Resource.service)
        case .deployment:
            let legacy = header.kind.legacyAPIVersions.contains(header.apiVersion)
            return deployment(specField, name: name, legacy: legacy, reader: reader).map(Resource.deployment)
        // Serin's own resources, and Flagger's read unchanged: a field Serin does not act on, or a misspelt one, is an
        // error, never skipped (a Canary's release, or a query run without it, would not do what was written: a
        // `treshold` left at its default rolls back later than written). Unlike Istio's resources, whose fields
        // Serin does not all read, these have no field Serin could pass over.
        case .canary:
            let flagger = header.apiVersion.hasPrefix("flagger.app/")
            return reader.readingStrictly { canary(specField, name: name, flagger: flagger, reader: reader).map(Resource.canary) }
        case .metricTemplate:
            return reader.readingStrictly { metricTemplate(specField, name: name, reader: reader).map(Resource.metricTemplate) }
        case .alertProvider:
            return reader.readingStrictly { alertProvider(specField, name: name, reader: reader).map(Resource.alertProvider) }
        }
    }
}
