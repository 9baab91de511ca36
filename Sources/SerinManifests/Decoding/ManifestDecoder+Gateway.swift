import SerinCore

extension ManifestDecoder {
    /// Protocols Istio allows on a Gateway server.
    static let gatewayProtocols: Set<String> = ["HTTP", "HTTPS", "GRPC", "GRPC-WEB", "HTTP2", "MONGO", "MYSQL", "REDIS", "TCP", "TLS"]

    /// Protocols Istio reads inside TCP (its filters parse their messages); the embedded gateway parses none of them,
    /// so it refuses a server that says so rather than forward what the user expects filtered.
    static let protocolsOverTCP: Set<String> = ["MONGO", "MYSQL", "REDIS"]

    static func gateway(_ spec: Field, name: ResourceName, reader: DocumentReader) -> Gateway? {
        guard let fields = reader.mapping(spec, Schema(known: ["selector", "servers"])) else { return nil }
        let selector = fields["selector"].flatMap(reader.stringMap) ?? [:]
        guard let serversField = reader.required("servers", in: fields), let servers = reader.list(serversField) else {
            return nil
        }
        let decoded = servers.compactMap { gatewayServer($0, reader: reader) }
        guard decoded.count == servers.count else { return nil }
        return Gateway(name: name, selector: selector, servers: decoded)
    }

    private static func gatewayServer(_ field: Field, reader: DocumentReader) -> Gateway.Server? {
        let schema = Schema(known: ["port", "hosts", "tls", "name"], notApplied: ["bind", "defaultEndpoint"])
        guard let fields = reader.mapping(field, schema),
            let portField = reader.required("port", in: fields),
            let port = reader.mapping(portField, Schema(known: ["number", "name", "protocol"], ignored: ["targetPort"])),
            let numberField = reader.required("number", in: port),
            let number = reader.port(numberField),
            let protocolField = reader.required("protocol", in: port),
            let serverProtocol = reader.string(protocolField),
            let hostsField = reader.required("hosts", in: fields),
            let hosts = reader.stringList(hostsField)
        else { return nil }
        let portName = port["name"].flatMap(reader.string)
        let upper = serverProtocol.uppercased()
        if !gatewayProtocols.contains(upper) {
            reader.error(
                "\(protocolField.path): expected one of \(gatewayProtocols.sorted().joined(separator: ", ")), got \"\(serverProtocol)\"",
                at: protocolField.node
            )
        } else if protocolsOverTCP.contains(upper) {
            reader.unsupported(
                "\(protocolField.path): \(upper) servers are not served by the embedded gateway: it reads no \(upper) messages; "
                    + "protocol TCP forwards the same connections untouched, by port, through VirtualService tcp routes",
                at: protocolField.node
            )
        } else if !RouteTable.servedProtocols.contains(upper) {
            reader.warning(
                "\(protocolField.path): \(upper) servers are not served by the embedded gateway (it serves "
                    + "\(RouteTable.servedProtocols.sorted().joined(separator: ", "))); this server is ignored",
                at: protocolField.node
            )
        }
        guard let (tls, httpsRedirect, passesThrough) = serverTLS(
            fields["tls"], serverProtocol: upper, protocolField: protocolField, reader: reader
        ) else { return nil }
        if hosts.isEmpty {
            reader.error("\(hostsField.path): expected at least one host", at: hostsField.node)
        }
        // `[NAMESPACE/]NAME`, as Istio validates it: a port or a scheme would make a host no request ever names.
        for (index, host) in hosts.enumerated() {
            let name = HostPattern.gatewayServerHost(host).pattern.text
            if host.contains("://") || name.contains("/") || name.contains(":") {
                reader.error(
                    "\(hostsField.path)[\(index)]: expected [NAMESPACE/]HOST (web.example.com, *.example.com, shop/web.example.com), "
                        + "got \"\(host)\": the port is the server's port.number, and a host has no scheme",
                    at: hostsField.node
                )
            }
        }
        return Gateway.Server(
            port: number, portName: portName, protocol: serverProtocol, hosts: hosts, tls: tls, httpsRedirect: httpsRedirect,
            passesThrough: passesThrough
        )
    }
}
