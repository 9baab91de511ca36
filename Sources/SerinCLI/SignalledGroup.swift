import Foundation
import Logging
import SerinLifecycle
import ServiceLifecycle
import Synchronization
import UnixSignals

/// How every long-running command ends: its services run in one `ServiceGroup` until SIGTERM or Ctrl-C, then
/// stop gracefully in reverse order, and the command exits 0.
enum SignalledGroup {
    /// Traps SIGTERM and SIGINT from now on. A long-running command calls this first, before it binds anything:
    /// until its group runs, a signal's default action would end the process at once (exit 143 or 130) with its
    /// listeners already open and nothing drained, as when Kubernetes stops a pod that has just become ready.
    /// A signal caught before the group runs stops the group, gracefully, as soon as it starts; a second one before
    /// then (a start-up that hangs, and a person pressing Ctrl-C again) ends the process at once, as the signal would.
    static func trapSignals() async {
        guard early.withLock({ trap in
            defer { trap.trapping = true }
            return !trap.trapping
        }) else { return }
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        Task {
            for await signal in signals {
                let (group, endsNow, cancelling) = early.withLock { trap in
                    defer { trap.caught = true }
                    if trap.group != nil { trap.signalsWhileRunning += 1 }
                    // A second signal while the group stops gracefully (a drain waiting on a long request or a
                    // WebSocket): the group is cancelled, so the drain cuts what is left and the command ends now.
                    let cancelling = trap.signalsWhileRunning >= 2 ? trap.running : nil
                    return (trap.group, trap.group == nil && (trap.caught || trap.groupEnded), cancelling)
                }
                if endsNow { exit(128 + signal.rawValue) }
                if let cancelling {
                    cancelling.cancel()
                    continue
                }
                // The group traps the signals itself once it runs; asking it again to stop changes nothing.
                await group?.triggerGracefulShutdown()
            }
        }
    }

    /// What `trapSignals` caught, and the group to stop.
    private struct EarlyTrap {
        var trapping = false
        var caught = false
        var group: ServiceGroup?
        /// The task running the group, and the signals caught since it started: the second cancels it.
        var running: Task<Void, any Error>?
        var signalsWhileRunning = 0
        /// Once the group has stopped, a signal does what it would without the trap: the command ends at once.
        var groupEnded = false
    }

    private static let early = Mutex(EarlyTrap())

    /// Runs `services` until a signal — or until `finishing` returns, if given. With `label`, says `ready` once
    /// a signal stops the command cleanly (so whoever waits for that line may send one), `LABEL: stopping,
    /// STOPPING` before the first service stops and `LABEL: stopped` once all have.
    static func run(
        _ services: [any Service], until finishing: (any Service)? = nil, label: String?, logger: Logger, ready: String? = nil,
        stopping: String? = nil
    ) async throws {
        var configurations = services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }
        if let label {
            // The group traps the signals before any service runs. Last but the finishing one, so told of the
            // shutdown before every other piece.
            let notice = ClosureService {
                if let ready { logger.info("\(ready)") }
                try? await gracefulShutdown()
                logger.info("\(label): stopping\(stopping.map { ", \($0)" } ?? "")")
            }
            configurations.append(.init(service: notice, serviceName: "shutdown notice"))
        }
        if let finishing { configurations.append(.init(service: finishing, successTerminationBehavior: .gracefullyShutdownGroup)) }
        let group = ServiceGroup(
            configuration: .init(services: configurations, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        let running = Task { try await group.run() }
        let caughtEarly = early.withLock { trap in
            trap.group = group
            trap.running = running
            trap.signalsWhileRunning = trap.caught ? 1 : 0
            return trap.caught
        }
        if caughtEarly { await group.triggerGracefulShutdown() }
        // Cancelled by a second signal, the group ends as soon as its services do: that is the stop asked for.
        do { try await running.value } catch is CancellationError {}
        early.withLock { trap in
            trap.group = nil
            trap.running = nil
            trap.groupEnded = true
        }
        if let label { logger.info("\(label): stopped") }
    }
}
