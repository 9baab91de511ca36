import SerinCore

extension ManifestDecoder {
    static func destinationRule(_ spec: Field, name: ResourceName, reader: DocumentReader) -> DestinationRule? {
        let schema = Schema(
            known: ["host", "subsets", "trafficPolicy", "exportTo"], notApplied: ["workloadSelector"]
        )
        guard let fields = reader.mapping(spec, schema),
            let hostField = reader.required("host", in: fields),
            let host = reader.string(hostField)
        else { return nil }
        exportTo(fields["exportTo"], of: "DestinationRule", reader: reader)
        let trafficPolicy = fields["trafficPolicy"].flatMap { self.trafficPolicy($0, reader: reader) }
        var subsets: [DestinationRule.Subset] = []
        if let subsetsField = fields["subsets"] {
            guard let entries = reader.list(subsetsField) else { return nil }
            subsets = entries.compactMap { subset($0, reader: reader) }
            guard subsets.count == entries.count else { return nil }
        }
        return DestinationRule(name: name, host: host, subsets: subsets, trafficPolicy: trafficPolicy ?? TrafficPolicy())
    }

    private static func subset(_ field: Field, reader: DocumentReader) -> DestinationRule.Subset? {
        guard let fields = reader.mapping(field, Schema(known: ["name", "labels", "trafficPolicy"])),
            let nameField = reader.required("name", in: fields),
            let name = reader.string(nameField)
        else { return nil }
        let labels = fields["labels"].flatMap(reader.stringMap) ?? [:]
        let trafficPolicy = fields["trafficPolicy"].flatMap { self.trafficPolicy($0, reader: reader) }
        return DestinationRule.Subset(name: name, labels: labels, trafficPolicy: trafficPolicy ?? TrafficPolicy())
    }
}
