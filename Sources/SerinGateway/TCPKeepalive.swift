#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix
import SerinCore

extension ClientBootstrap {
    /// Turns on TCP keepalive for the connections this bootstrap opens, with `settings`' time, interval and probes
    /// where given (the system's own otherwise), as Envoy's `upstream_connection_options.tcp_keepalive`. Nil: off.
    func keepalive(_ settings: ConnectionPoolSettings.TCPKeepalive?) -> ClientBootstrap {
        guard let settings else { return self }
        var bootstrap = channelOption(.socketOption(.so_keepalive), value: 1)
        #if os(Linux)
        let idle = NIOBSDSocket.Option(rawValue: TCP_KEEPIDLE)
        #else
        let idle = NIOBSDSocket.Option(rawValue: TCP_KEEPALIVE)
        #endif
        if let time = settings.time { bootstrap = bootstrap.channelOption(.tcpOption(idle), value: Int(time.components.seconds)) }
        if let interval = settings.interval {
            bootstrap = bootstrap.channelOption(.tcpOption(NIOBSDSocket.Option(rawValue: TCP_KEEPINTVL)), value: Int(interval.components.seconds))
        }
        if let probes = settings.probes {
            bootstrap = bootstrap.channelOption(.tcpOption(NIOBSDSocket.Option(rawValue: TCP_KEEPCNT)), value: probes)
        }
        return bootstrap
    }
}
