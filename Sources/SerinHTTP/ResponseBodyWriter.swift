import NIOCore
import NIOHTTP1
import Synchronization

/// Writes the pieces of a streamed response body to one client without waiting for the client to read.
///
/// Bytes handed to the connection but not yet taken by the client are counted; a client that falls more
/// than `maxUnflushedBytes` behind is disconnected and the next write throws, so a reader that stalls
/// can never make the server buffer without bound.
public final class ResponseBodyWriter: Sendable {
    private let channel: any Channel
    private let maxUnflushedBytes: Int
    private let unflushed = Mutex(0)

    init(channel: any Channel, maxUnflushedBytes: Int) {
        self.channel = channel
        self.maxUnflushedBytes = maxUnflushedBytes
    }

    /// Why a streamed body cannot take more.
    public enum WriteError: Error, Equatable, CustomStringConvertible {
        /// The client closed the connection.
        case closed
        /// The client read too slowly: this many bytes were still waiting for it; it was disconnected.
        case tooFarBehind(unflushedBytes: Int)

        public var description: String {
            switch self {
            case .closed: return "the client closed the connection"
            case .tooFarBehind(let bytes): return "the client fell \(bytes) bytes behind and was disconnected"
            }
        }
    }

    /// Queues `text` for the client.
    public func write(_ text: String) throws(WriteError) {
        try write(bytes: Array(text.utf8))
    }

    /// Queues `bytes` for the client; throws once the client is gone or too far behind.
    public func write(bytes: [UInt8]) throws(WriteError) {
        guard channel.isActive else { throw .closed }
        let behind = unflushed.withLock { count -> Int? in
            if count + bytes.count > maxUnflushedBytes { return count + bytes.count }
            count += bytes.count
            return nil
        }
        if let behind {
            channel.close(promise: nil)
            throw .tooFarBehind(unflushedBytes: behind)
        }
        let part = HTTPServerResponsePart.body(.byteBuffer(channel.allocator.buffer(bytes: bytes)))
        channel.writeAndFlush(part).whenComplete { _ in
            self.unflushed.withLock { $0 -= bytes.count }
        }
    }

    /// Runs `produce` until it returns or the client goes away (then it is cancelled), then ends the body
    /// and closes the connection.
    static func run(_ produce: @escaping SimpleResponse.BodyStream, on channel: any Channel, maxUnflushedBytes: Int) async {
        let writer = ResponseBodyWriter(channel: channel, maxUnflushedBytes: maxUnflushedBytes)
        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask { await produce(writer) }
            tasks.addTask { try? await channel.closeFuture.get() }
            await tasks.next()
            tasks.cancelAll()
            // Closing also ends the close watcher when the producer finished first. A client too far behind
            // loses the final chunk; everyone else gets it before the close.
            channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
            channel.close(promise: nil)
        }
    }
}
