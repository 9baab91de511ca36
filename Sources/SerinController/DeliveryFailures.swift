import Synchronization

/// What the log has said of notifications given up: a receiver that fails the same way for every event (an alert
/// provider whose Secret is missing, a webhook whose host is down) is warned of once, not once per event, until it
/// fails another way or delivers again — which is said too.
final class DeliveryFailures: Sendable {
    private let said = Mutex<[String: String]>([:])

    /// `receiver` was given up on for `reason`: whether that is news (a first failure, or another reason).
    func gaveUp(_ receiver: String, reason: String) -> Bool {
        said.withLock { said in
            defer { said[receiver] = reason }
            return said[receiver] != reason
        }
    }

    /// `receiver` delivered: whether a failure of it had been said (so its recovery is news).
    func delivered(_ receiver: String) -> Bool {
        said.withLock { $0.removeValue(forKey: receiver) != nil }
    }
}
