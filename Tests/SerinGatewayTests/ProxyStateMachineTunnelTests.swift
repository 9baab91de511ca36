import NIOHTTP1
import SerinCore
@testable import SerinGateway
import Testing

/// The proxy machine's upgraded connections (WebSocket) as event sequences.
@Suite("Proxy state machine: tunnels")
struct ProxyStateMachineTunnelTests {
    typealias Machine = ProxyStateMachine

    /// An upgrade request routed, connected and sent.
    static func upgradeSent(delayed: Bool = false) -> Machine {
        var machine = Machine(random: FastRandom(seed: 42))
        #expect(machine.requestHead(keepAlive: true, version: .http1_1, hasBody: false, upgrade: true) == .route)
        _ = machine.routedUpstream(retries: 0, delayed: delayed)
        if delayed { _ = machine.delayElapsed() }
        _ = machine.requestEnded()
        #expect(machine.upstreamConnected() == .sendRequest)
        return machine
    }

    static func switched(_ machine: inout Machine) -> Machine.Action {
        machine.responseHead(status: 101, informational: true, chunked: false, endsWithClose: false, retries: nil)
    }

    @Test("a 101 to an upgrade request starts a tunnel: no further request is read, and reads follow the upstream's writability")
    func switchStartsTunnel() {
        var machine = Self.upgradeSent()
        #expect(Self.switched(&machine) == .startTunnel(flag: .noFlag))
        #expect(machine.isTunnelling)
        #expect(!machine.mayStartRequest)
        #expect(machine.responseStarted)
        #expect(machine.holdsReads(pipelinedBytesWaiting: false, upstreamWritable: false))
        #expect(!machine.holdsReads(pipelinedBytesWaiting: true, upstreamWritable: true))
    }

    @Test("a tunnel keeps the fault delay's DI flag it was counted with")
    func delayedTunnelFlag() {
        var machine = Self.upgradeSent(delayed: true)
        #expect(Self.switched(&machine) == .startTunnel(flag: .delayInjected))
    }

    @Test("a 101 to a request that did not ask to upgrade is a protocol error, answered 502")
    func unaskedSwitch() {
        var machine = Machine(random: FastRandom(seed: 1))
        _ = machine.requestHead(keepAlive: true, version: .http1_1, hasBody: false)
        _ = machine.routedUpstream(retries: 0, delayed: false)
        _ = machine.requestEnded()
        _ = machine.upstreamConnected()
        #expect(Self.switched(&machine) == .fail(.protocolError, keepAlive: true))
        #expect(!machine.isTunnelling)
    }

    @Test("an upgrade request answered otherwise is a normal response that keeps the connection")
    func declinedUpgrade() {
        var machine = Self.upgradeSent()
        #expect(machine.responseHead(status: 403, informational: false, chunked: false, endsWithClose: false, retries: nil)
            == .startResponse(keepAlive: true, decodeChunks: false))
        #expect(machine.upstreamEnded() == .finishResponse(code: 403, flag: .noFlag, keepAlive: true, reuseUpstream: true))
        #expect(machine.mayStartRequest)
    }

    @Test("a half-close from one side is passed to the other; when both sides have finished the tunnel ends", arguments: [true, false])
    func halfCloses(clientFirst: Bool) {
        var machine = Self.upgradeSent()
        _ = Self.switched(&machine)
        #expect(machine.tunnelSideFinished(fromClient: clientFirst) == .finishSending(toUpstream: clientFirst))
        #expect(machine.isTunnelling)
        #expect(machine.tunnelSideFinished(fromClient: !clientFirst) == .endTunnel)
        #expect(!machine.isTunnelling)
    }

    @Test("either side closing ends the tunnel without counting the request again; timers no longer apply")
    func closesEndTunnel() {
        var fromClient = Self.upgradeSent()
        _ = Self.switched(&fromClient)
        #expect(fromClient.timedOut() == .none)
        #expect(fromClient.clientClosed() == .endTunnel)
        var fromUpstream = Self.upgradeSent()
        _ = Self.switched(&fromUpstream)
        #expect(fromUpstream.upstreamClosed(malformed: false, reused: false, retries: nil) == .endTunnel)
        #expect(fromUpstream.clientClosed() == .none)
    }
}
