import Foundation

/// Reads a child's output pipe to its end on a thread of its own, with blocking `read(2)`.
///
/// Foundation's `readabilityHandler` watches the descriptor with a Dispatch source, and Dispatch on Linux can
/// crash the whole test process draining its epoll set when a watched descriptor closes under it
/// (swiftlang/swift-subprocess#47). A thread that only reads, and owns the read end until the end of the
/// output, cannot.
enum PipeDrain {
    /// Calls `onChunk` with each chunk as it comes, then once with empty data at the end of the output.
    /// The thread keeps `pipe` open until then.
    static func start(_ pipe: Pipe, onChunk: @escaping @Sendable (Data) -> Void) {
        let reader = pipe.fileHandleForReading
        let thread = Thread {
            let descriptor = reader.fileDescriptor
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count > 0 {
                    onChunk(Data(buffer[0..<count]))
                } else if count < 0 && errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            onChunk(Data())
            try? reader.close()
        }
        thread.name = "pipe-drain"
        thread.start()
    }
}
