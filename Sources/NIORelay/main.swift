// nio-relay: what the cheapest proxy SwiftNIO can carry costs, for scripts/bench-gateway.sh's "relay" row.
//
// Each client connection is paired with one upstream connection, opened on the same event loop, and the
// bytes go across unread in both directions, with backpressure: no HTTP, no routing, no counters. Under a
// keep-alive load it makes the same system calls per request as Serin's gateway and nginx (two reads, two
// writes), so its CPU per request is the floor for any proxy built on SwiftNIO's channels on this machine.
// The split is per connection (every tenth goes to the second upstream), not per request.
//
// Usage: nio-relay --listen PORT --upstream PORT [--upstream PORT...] [--threads N]
#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// One side of a relayed pair: what it reads goes out on its partner's channel.
final class RelaySide: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    var partner: RelaySide?
    private var context: ChannelHandlerContext?
    /// A read held back while the partner could not take more.
    private var readHeld = false

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner?.context?.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.context?.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.context?.close(promise: nil)
        partner = nil
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.resumeReading() }
    }

    func read(context: ChannelHandlerContext) {
        if let partnerContext = partner?.context, !partnerContext.channel.isWritable {
            readHeld = true
        } else {
            context.read()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func resumeReading() {
        guard readHeld else { return }
        readHeld = false
        context?.read()
    }
}

struct Settings {
    var listen = 0
    var upstreams: [Int] = []
    var threads = 1

    init(_ arguments: [String]) throws(UsageError) {
        var rest = arguments[...]
        func port(after flag: String) throws(UsageError) -> Int {
            guard let text = rest.popFirst() else { throw UsageError("\(flag) needs a port") }
            guard let port = Int(text), (1...65535).contains(port) else { throw UsageError("\(flag): expected a port 1-65535, got '\(text)'") }
            return port
        }
        while let flag = rest.popFirst() {
            switch flag {
            case "--listen": listen = try port(after: flag)
            case "--upstream": upstreams.append(try port(after: flag))
            case "--threads":
                guard let text = rest.popFirst(), let count = Int(text), count > 0 else { throw UsageError("--threads needs a positive count") }
                threads = count
            default: throw UsageError("unknown argument '\(flag)'")
            }
        }
        guard listen > 0 else { throw UsageError("--listen PORT is required") }
        guard !upstreams.isEmpty else { throw UsageError("at least one --upstream PORT is required") }
    }
}

struct UsageError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

let settings: Settings
do {
    settings = try Settings(Array(CommandLine.arguments.dropFirst()))
} catch {
    print("nio-relay: \(error.message)\nusage: nio-relay --listen PORT --upstream PORT [--upstream PORT...] [--threads N]")
    exit(2)
}

let accepted = NIOLockedValueBox(0)
let upstreams = settings.upstreams
let group = MultiThreadedEventLoopGroup(numberOfThreads: settings.threads)
let server = try await ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 1024)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
    // The client's channel is registered, and read from, only once the initializer's future (its upstream
    // connection) completes.
    .childChannelInitializer { client in
        let number = accepted.withLockedValue { count in
            count += 1
            return count
        }
        // Every tenth connection to the second upstream, when there is one: the bench's 90/10, per connection.
        let port = upstreams.count > 1 && number % 10 == 0 ? upstreams[1] : upstreams[0]
        return ClientBootstrap(group: client.eventLoop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connect(host: "127.0.0.1", port: port)
            .flatMapThrowing { upstream in
                let clientSide = RelaySide(), upstreamSide = RelaySide()
                clientSide.partner = upstreamSide
                upstreamSide.partner = clientSide
                try client.pipeline.syncOperations.addHandler(clientSide)
                try upstream.pipeline.syncOperations.addHandler(upstreamSide)
                upstream.closeFuture.whenComplete { _ in client.close(promise: nil) }
            }
    }
    .bind(host: "127.0.0.1", port: settings.listen)
    .get()
print("nio-relay: listening on 127.0.0.1:\(settings.listen), upstreams \(upstreams.map(String.init).joined(separator: ", ")), \(settings.threads) thread(s)")
try await server.closeFuture.get()
