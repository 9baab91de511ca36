import SerinCore
import Yams

extension ManifestDecoder {
    static func service(_ spec: Field, name: ResourceName, reader: DocumentReader) -> KubernetesService? {
        let schema = Schema(
            known: ["ports", "selector", "type"],
            ignored: [
                "clusterIP", "clusterIPs", "externalName", "externalTrafficPolicy", "internalTrafficPolicy",
                "sessionAffinity", "sessionAffinityConfig", "loadBalancerIP", "loadBalancerClass",
                "loadBalancerSourceRanges", "ipFamilies", "ipFamilyPolicy", "publishNotReadyAddresses",
                "externalIPs", "healthCheckNodePort", "allocateLoadBalancerNodePorts", "trafficDistribution",
            ]
        )
        guard let fields = reader.mapping(spec, schema) else { return nil }
        var ports: [KubernetesService.Port] = []
        if let portsField = fields["ports"] {
            guard let entries = reader.list(portsField) else { return nil }
            ports = entries.compactMap { servicePort($0, reader: reader) }
            guard ports.count == entries.count else { return nil }
        }
        let selector = fields["selector"].flatMap(reader.stringMap) ?? [:]
        let type = fields["type"].flatMap(reader.string)
        return KubernetesService(name: name, type: type, ports: ports, selector: selector)
    }

    private static func servicePort(_ field: Field, reader: DocumentReader) -> KubernetesService.Port? {
        let schema = Schema(known: ["name", "port", "targetPort", "protocol", "appProtocol"], ignored: ["nodePort"])
        guard let fields = reader.mapping(field, schema),
            let portField = reader.required("port", in: fields),
            let port = reader.port(portField)
        else { return nil }
        var targetPort: KubernetesService.TargetPort?
        if let targetField = fields["targetPort"] {
            // Kubernetes' int-or-string: a number, or the name of a container port.
            switch targetField.node.tagName {
            case .int: targetPort = reader.port(targetField).map(KubernetesService.TargetPort.number)
            case .str: targetPort = reader.string(targetField).map(KubernetesService.TargetPort.named)
            default: reader.typeMismatch(targetField, expected: "an integer or a port name")
            }
        }
        return KubernetesService.Port(
            name: fields["name"].flatMap(reader.string), port: port, targetPort: targetPort,
            protocol: fields["protocol"].flatMap(reader.string) ?? "TCP", appProtocol: fields["appProtocol"].flatMap(reader.string)
        )
    }
}
