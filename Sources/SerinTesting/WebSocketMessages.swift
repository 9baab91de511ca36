import NIOCore
import NIOWebSocket

/// Gathers WebSocket frames into whole messages (a text or binary frame, then its continuations), for the test
/// client and server alike.
struct WebSocketMessages {
    private var partial: (opcode: WebSocketOpcode, data: ByteBuffer)?

    /// The message `frame` completes, if it is the last of a text or binary message.
    mutating func add(_ frame: WebSocketFrame) -> (opcode: WebSocketOpcode, data: ByteBuffer)? {
        switch frame.opcode {
        case .text, .binary:
            partial = (frame.opcode, frame.unmaskedData)
        case .continuation:
            var data = frame.unmaskedData
            partial?.data.writeBuffer(&data)
        default:
            return nil
        }
        guard frame.fin, let message = partial else { return nil }
        partial = nil
        return message
    }
}
