import Logging
import Foundation
import SerinCore

/// Runs the controller only while this replica holds the Lease: tries to acquire or renew it every
/// `retryPeriod`, starts `lead` when it becomes the leader, cancels it as soon as a renewal is overdue (before
/// another replica may take over), and hands the Lease back when stopped, so a successor need not wait for it
/// to expire. The decisions are `LeaderElection`'s; this actor only does the IO.
public actor LeaderElector {
    private let api: any KubernetesAPI
    private let election: LeaderElection
    private let path: ResourcePath
    private let logger: Logger
    private var leading: Task<Void, Never>?
    private var lastRenewal: Date?
    /// Counts the rounds given up: a round still running after it was given up must not record a renewal.
    private var round = 0
    /// Told whether the Lease can be read and written: a standby that cannot reach the API is not ready either.
    private let readiness: ClusterReadiness?
    private var readinessLabel: String { ClusterReadiness.leasePrefix + "\(path.namespace ?? "")/\(path.name ?? "")" }

    public init(
        api: any KubernetesAPI, election: LeaderElection, namespace: String, name: String, logger: Logger,
        readiness: ClusterReadiness? = nil
    ) {
        self.api = api
        self.election = election
        self.path = .lease(namespace: namespace, name: name)
        self.logger = logger
        self.readiness = readiness
    }

    /// Whether this replica leads right now.
    public var isLeading: Bool { leading != nil }

    /// Competes for the Lease until the task is cancelled, running `lead` while leading.
    public func run(lead: @escaping @Sendable () async -> Void) async {
        while !Task.isCancelled {
            // A leader's renewal gets only the time left before it must stop acting: a call that hangs (a connection
            // that died without closing) must not keep it acting past `renewDeadline`, towards the Lease's expiry,
            // when another replica may take over.
            var limit = election.renewDeadline
            if leading != nil, let lastRenewal {
                limit = max(0.01, lastRenewal.addingTimeInterval(election.renewDeadline).timeIntervalSince(Date()))
            }
            let budget = Duration.seconds(limit)
            let thisRound = round
            if await !within(budget, { await self.attempt(round: thisRound) }) {
                round += 1
                logger.warning("\(election.identity): Lease \(path): no answer within \(Readable.duration(budget)); given up")
                readiness?.failed(readinessLabel, "no answer within \(Readable.duration(budget))")
            }
            let now = Date()
            if let lastRenewal, election.mayAct(lastRenewal: lastRenewal, now: now) {
                if leading == nil {
                    logger.notice("\(election.identity) leads (Lease \(path.namespace ?? "")/\(path.name ?? ""))")
                    leading = Task { await lead() }
                }
            } else if let task = leading {
                logger.warning("\(election.identity) lost the Lease; stopping")
                task.cancel()
                await task.value
                leading = nil
            }
            try? await Task.sleep(for: .seconds(election.retryPeriod))
        }
        if let task = leading {
            task.cancel()
            await task.value
            leading = nil
        }
        // This task is cancelled, and the HTTP client gives up on calls made from a cancelled task: the release
        // runs in a task of its own, for `renewDeadline` at most (an API server that does not answer must not hold
        // up a shutdown; the Lease then expires as it would anyway).
        let released = await Task { await self.within(.seconds(self.election.renewDeadline)) { await self.release() } }.value
        if !released { logger.warning("\(election.identity): Lease \(path): no answer while handing it back; it expires by itself") }
    }

    /// Runs `work`, given up after `limit`; false when it was. A work given up is cancelled but not waited for: a call
    /// that is slow to notice its cancellation (an event loop that is busy, a connection that died without closing)
    /// must not hold the replica acting past its deadline.
    private nonisolated func within(_ limit: Duration, _ work: @escaping @Sendable () async -> Void) async -> Bool {
        let (outcomes, outcome) = AsyncStream.makeStream(of: Bool.self)
        let worker = Task {
            await work()
            outcome.yield(true)
        }
        let timer = Task {
            try? await Task.sleep(for: limit)
            outcome.yield(false)
        }
        var first = outcomes.makeAsyncIterator()
        // nil when this task is cancelled: given up too.
        let finished = await first.next() ?? false
        outcome.finish()
        timer.cancel()
        if !finished { worker.cancel() }
        return finished
    }

    /// One read-decide-write round; a write lost to another replica (409) just waits for the next round.
    private func attempt(round: Int) async {
        do {
            var current: JSONValue?
            do {
                current = try await api.get(path)
            } catch let error as KubernetesAPIError where error.isNotFound {
                current = nil
            }
            let now = Date()
            switch election.decide(current.map { LeaderElection.Lease(json: $0["spec"] ?? [:]) }, now: now) {
            case .create(let lease):
                _ = try await api.create(
                    ResourcePath.lease(namespace: path.namespace ?? "default"),
                    [
                        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                        "metadata": ["name": .string(path.name ?? ""), "namespace": .string(path.namespace ?? "default")],
                        "spec": lease.json,
                    ]
                )
                if round == self.round { lastRenewal = now }
            case .update(let lease):
                guard case .object(var fields)? = current else { return }
                fields["spec"] = lease.json
                _ = try await api.replace(path, .object(fields))
                if round == self.round { lastRenewal = now }
            case .follow:
                if round == self.round { lastRenewal = nil }
            }
            readiness?.succeeded(readinessLabel)
        } catch let error as KubernetesAPIError where error.code == 409 {
            // Another replica wrote first: it leads, or this replica's Lease changed under it.
            readiness?.succeeded(readinessLabel)
        } catch {
            logger.warning("\(election.identity): Lease \(path): \(error)", error: error)
            readiness?.failed(readinessLabel, "\(error)")
        }
    }

    /// Hands the Lease back, trying again a few times, `retryPeriod` apart: the write can lose to this replica's own
    /// last renewal (a call given up when the task was cancelled may still reach the API server after the read
    /// here), or meet the API server briefly unavailable. If every try fails, the Lease expires as it would anyway.
    private func release() async {
        for attempt in 1...Self.releaseAttempts {
            do {
                let current = try await api.get(path)
                guard case .object(var fields) = current,
                    let released = election.release(LeaderElection.Lease(json: current["spec"] ?? [:]), now: Date())
                else { return }
                fields["spec"] = released.json
                _ = try await api.replace(path, .object(fields))
                logger.notice("\(election.identity) released the Lease")
                return
            } catch {
                logger.warning("\(election.identity): releasing Lease \(path) (try \(attempt) of \(Self.releaseAttempts)): \(error)", error: error)
            }
            try? await Task.sleep(for: .seconds(election.retryPeriod))
        }
    }

    static let releaseAttempts = 3
}
