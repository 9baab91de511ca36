/// Polls `condition` every 20ms until it holds (true) or `timeout` passes (false): how tests wait for
/// something that happens on its own time, never with a blind sleep.
public func eventually(_ timeout: Duration, _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while await !condition() {
        guard ContinuousClock.now < deadline else { return false }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return true
}
