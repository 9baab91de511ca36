import Logging
import SerinLifecycle
import ServiceLifecycle
import UnixSignals

/// How every long-running command ends: its services run in one `ServiceGroup` until SIGTERM or Ctrl-C, then
/// stop gracefully in reverse order, and the command exits 0.
enum SignalledGroup {
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
        try await group.run()
        if let label { logger.info("\(label): stopped") }
    }
}
