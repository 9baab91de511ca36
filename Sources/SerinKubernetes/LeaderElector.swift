import Logging
import Foundation

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

    public init(api: any KubernetesAPI, election: LeaderElection, namespace: String, name: String, logger: Logger) {
        self.api = api
        self.election = election
        self.path = .lease(namespace: namespace, name: name)
        self.logger = logger
    }

    /// Whether this replica leads right now.
    public var isLeading: Bool { leading != nil }

    /// Competes for the Lease until the task is cancelled, running `lead` while leading.
    public func run(lead: @escaping @Sendable () async -> Void) async {
        while !Task.isCancelled {
            await attempt()
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
            try? await Task.sleep(for: .milliseconds(Int(election.retryPeriod * 1000)))
        }
        if let task = leading {
            task.cancel()
            await task.value
            leading = nil
        }
        // This task is cancelled, and the HTTP client gives up on calls made from a cancelled task: the release
        // runs in a task of its own.
        await Task { await self.release() }.value
    }

    /// One read-decide-write round; a write lost to another replica (409) just waits for the next round.
    private func attempt() async {
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
                lastRenewal = now
            case .update(let lease):
                guard case .object(var fields)? = current else { return }
                fields["spec"] = lease.json
                _ = try await api.replace(path, .object(fields))
                lastRenewal = now
            case .follow:
                lastRenewal = nil
            }
        } catch let error as KubernetesAPIError where error.code == 409 {
            // Another replica wrote first: it leads, or this replica's Lease changed under it.
        } catch {
            logger.warning("\(election.identity): Lease \(path): \(error)", error: error)
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
            try? await Task.sleep(for: .milliseconds(Int(election.retryPeriod * 1000)))
        }
    }

    static let releaseAttempts = 3
}
