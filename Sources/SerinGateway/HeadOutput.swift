import NIOCore

/// A head's bytes, written in place into memory a buffer reserved once for the most the head can take. Each piece
/// is then a plain copy: written with a `ByteBuffer` call apiece, every piece checked the buffer's capacity and
/// uniqueness again, which cost more than the copies (two fifths of writing a proxied request's head, counted by
/// `scripts/instructions-gateway.sh`).
struct HeadOutput {
    private let out: UnsafeMutableRawBufferPointer
    private(set) var count = 0

    fileprivate init(_ out: UnsafeMutableRawBufferPointer) {
        self.out = out
    }

    @inline(__always)
    mutating func append(_ text: StaticString) {
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// A String's bytes. Named apart from `append(_: StaticString)` so a literal, which would take the String
    /// overload if both had one name, is copied straight from the binary.
    @inline(__always)
    mutating func append(string text: String) {
        let copied: Void? = text.utf8.withContiguousStorageIfAvailable { append(UnsafeRawBufferPointer($0)) }
        if copied == nil {
            for byte in text.utf8 { append(byte) }
        }
    }

    @inline(__always)
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        // The reservation is an upper bound worked out by the writer: past it would be a bug, never a write.
        precondition(bytes.count <= out.count - count, "a head outgrew the space reserved for it")
        UnsafeMutableRawBufferPointer(rebasing: out[count..<count + bytes.count]).copyMemory(from: bytes)
        count += bytes.count
    }

    /// `length` bytes that `fill` writes in place.
    @inline(__always)
    mutating func append(length: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Void) {
        precondition(length <= out.count - count, "a head outgrew the space reserved for it")
        fill(UnsafeMutableRawBufferPointer(rebasing: out[count..<count + length]))
        count += length
    }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        precondition(count < out.count, "a head outgrew the space reserved for it")
        out[count] = byte
        count += 1
    }

    @inline(__always)
    mutating func append(_ first: UInt8, _ second: UInt8) {
        precondition(out.count - count >= 2, "a head outgrew the space reserved for it")
        out[count] = first
        out[count + 1] = second
        count += 2
    }
}

extension ByteBuffer {
    /// Writes at most `maximumBytes` through `body`, into space reserved once.
    mutating func writeHead(maximumBytes: Int, _ body: (inout HeadOutput) -> Void) {
        writeWithUnsafeMutableBytes(minimumWritableBytes: maximumBytes) { out in
            var head = HeadOutput(out)
            body(&head)
            return head.count
        }
    }
}
