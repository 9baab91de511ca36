import ArgumentParser
import SerinCore

extension RouteCommand {
    /// A TLS connection to a PASSTHROUGH port: the server that admits its server name, the tls route it takes
    /// (and by which sniHost), and the destinations it is passed through to, still encrypted.
    func explainPassthrough(_ table: RouteTable, serverName: String) throws {
        Terminal.out("connection: TLS to port \(port), server name \"\(serverName)\" (passed through: the destination terminates TLS)")
        let listener = table.passthrough[port]
        if !table.passesThrough(serverName: serverName, port: port), table.listeners[port]?.terminatesTLS == true {
            Terminal.out("result:  no PASSTHROUGH server lists it: the HTTPS server on port \(port) terminates TLS, and its requests route by Host (--host)")
            return
        }
        if let server = listener?.servers.first(where: { $0.passesThrough && $0.hosts.contains { $0.matches(serverName) } }) {
            Terminal.out("server:  Gateway \(server.gateway) PASSTHROUGH (hosts \(server.hosts.map(\.text).joined(separator: ", ")))")
        }
        switch table.resolvePassthrough(serverName: serverName, port: port) {
        case .noRoute(let reason):
            Terminal.out("result:  connection closed (NR), \(reason)")
            throw ExitCode(1)
        case .route(let route):
            Terminal.out("route:   \(route.label)")
            let sniHost = listener?.virtualHosts.first { host in host.pattern.matches(serverName) && host.routes.contains { $0 === route } }
            Terminal.out("match:   sniHosts \(sniHost?.pattern.text ?? serverName)" + (sniHost?.pattern.isWildcard == true ? " (wildcard)" : ""))
            Self.printDestinations(of: route, withoutEndpoints: "connection closed")
        }
    }
}
