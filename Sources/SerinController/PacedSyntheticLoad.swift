import Logging
import SerinCore

/// `analysis.load` paced: one task per Canary sends its plan's requests, `rps` a second to the canary and as many
/// to the stable, for `duration` at the start of each analysis interval, to those two destinations only. A newer
/// plan replaces the running one; `stop` ends it at once. The sender decides how a request travels.
public actor PacedSyntheticLoad<Sender: SyntheticRequestSender>: SyntheticTraffic {
    private let sender: Sender
    private let logger: Logger
    private var running: [ResourceName: Task<Void, Never>] = [:]

    public init(sender: Sender, logger: Logger) {
        self.sender = sender
        self.logger = logger
    }

    public func start(_ plan: LoadPlan) {
        running.removeValue(forKey: plan.canaryName)?.cancel()
        let (sender, logger) = (self.sender, self.logger)
        running[plan.canaryName] = Task { await Self.send(plan, with: sender, logger: logger) }
    }

    /// Ends the Canary's load and returns once its task has sent its last request, so nothing is sent after.
    public func stop(_ canary: ResourceName) async {
        guard let task = running.removeValue(forKey: canary) else { return }
        task.cancel()
        await task.value
    }

    /// Whether a plan is running for `canary`.
    public func isSending(for canary: ResourceName) -> Bool { running[canary] != nil }

    /// Paces one plan until cancelled: each interval, a request to each destination every `1/rps` seconds, for
    /// `duration` and never more than `requestsPerInterval`; then quiet until the next interval.
    static func send(_ plan: LoadPlan, with sender: Sender, logger: Logger) async {
        let clock = ContinuousClock()
        let spacing = Duration.seconds(1 / plan.load.rps)
        let headers = plan.load.headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        var unreached: Set<Destination> = []
        while !Task.isCancelled {
            let intervalStart = clock.now
            var targets: [Sender.Target] = []
            var lookedUpAt: ContinuousClock.Instant?
            for number in 0..<plan.requestsPerInterval {
                let due = intervalStart + spacing * number
                guard due < intervalStart + plan.duration else { break }
                do { try await clock.sleep(until: due) } catch { return }
                if lookedUpAt.map({ clock.now - $0 >= .seconds(1) }) ?? true {
                    lookedUpAt = clock.now
                    targets = [plan.canary, plan.stable].compactMap { destination in
                        guard let target = sender.target(for: destination, of: plan.canaryName) else {
                            if unreached.insert(destination).inserted {
                                logger.warning(
                                    "\(plan.canaryName.name): analysis.load sends nothing to \(destination): nothing reaches it",
                                    metadata: ["canary": "\(plan.canaryName)"])
                            }
                            return nil
                        }
                        return target
                    }
                }
                for target in targets { sender.send(to: target, path: plan.load.path, headers: headers) }
            }
            do { try await clock.sleep(until: intervalStart + plan.interval) } catch { return }
        }
    }
}
