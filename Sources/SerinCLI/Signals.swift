import Dispatch
import Foundation

/// Waits for Ctrl-C or SIGTERM so long-running commands can shut down cleanly.
enum Signals {
    static func waitForTermination() async -> Int32 {
        await withCheckedContinuation { continuation in
            let queue = DispatchQueue(label: "serin.signals")
            let state = SignalState(continuation: continuation)
            for signalNumber in [SIGINT, SIGTERM] {
                signal(signalNumber, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
                source.setEventHandler { state.fire(signalNumber) }
                source.resume()
                state.keep(source)
            }
        }
    }
}

/// Resumes the waiter once, whichever signal comes first; touched only on the signal queue.
private final class SignalState: @unchecked Sendable {
    private var continuation: CheckedContinuation<Int32, Never>?
    private var sources: [any DispatchSourceSignal] = []

    init(continuation: CheckedContinuation<Int32, Never>) {
        self.continuation = continuation
    }

    func keep(_ source: any DispatchSourceSignal) { sources.append(source) }

    func fire(_ signalNumber: Int32) {
        continuation?.resume(returning: signalNumber)
        continuation = nil
    }
}
