import NIOCore
import NIOPosix
import SerinHTTP
import SerinTesting
import Synchronization
import Testing

/// Streamed response bodies (what `/events` rides on): delivered whole to a reader, bounded for a reader
/// that stalls, ended when the client leaves.
@Suite("Streamed responses", .timeLimit(.minutes(1)))
struct StreamingResponseTests {
    /// What the producer saw, written from the server's task and read by the test.
    final class ProducerRecord: Sendable {
        private let state = Mutex<(written: Int, error: ResponseBodyWriter.WriteError?, ended: Bool)>((0, nil, false))

        func wrote(_ count: Int) { state.withLock { $0.written += count } }
        func failed(_ error: ResponseBodyWriter.WriteError) { state.withLock { $0.error = error } }
        func end() { state.withLock { $0.ended = true } }
        var written: Int { state.withLock { $0.written } }
        var error: ResponseBodyWriter.WriteError? { state.withLock { $0.error } }
        var ended: Bool { state.withLock { $0.ended } }
    }

    /// A server whose one route streams `chunks` pieces of `chunkBytes` bytes, `pause` apart, stopping at
    /// the first write error.
    static func startServer(
        group: any EventLoopGroup, record: ProducerRecord, chunks: Int, chunkBytes: Int, pause: Duration = .zero,
        thenWait: Bool = false
    ) async throws -> SimpleHTTPServer {
        try await SimpleHTTPServer.start(group: group, host: "127.0.0.1", port: 0, maxUnflushedStreamBytes: 64 << 10) { _ in
            .streaming(headers: [("content-type", "text/plain")]) { writer in
                defer { record.end() }
                let chunk = String(repeating: "~", count: chunkBytes - 1) + "\n"
                for _ in 0..<chunks {
                    do throws(ResponseBodyWriter.WriteError) {
                        try writer.write(chunk)
                        record.wrote(chunkBytes)
                    } catch {
                        record.failed(error)
                        return
                    }
                    try? await Task.sleep(for: pause)
                }
                // Stays open until the client leaves (the server then cancels this task).
                if thenWait { while (try? await Task.sleep(for: .seconds(60))) != nil {} }
            }
        }
    }

    @Test("a reader that keeps up gets every piece of a streamed body, chunked, and the connection closes when it ends")
    func readerGetsWholeBody() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let record = ProducerRecord()
        // 200 KB in all, more than the 64 KiB a client may fall behind: only a reader that keeps up gets it all.
        let server = try await Self.startServer(group: group, record: record, chunks: 200, chunkBytes: 1000, pause: .milliseconds(2))
        let client = try await RawConnection.connect(port: server.port, group: group)
        try await client.send("GET / HTTP/1.1\r\nhost: test\r\n\r\n")
        #expect(await client.waitForClose(timeout: .seconds(50)), "still open after \(client.received.count) bytes")
        #expect(record.error == nil)
        #expect(record.written == 200_000)
        #expect(client.received.hasPrefix("HTTP/1.1 200 OK"))
        #expect(client.received.lowercased().contains("transfer-encoding: chunked"))
        #expect(client.received.filter { $0 == "~" }.count == 200 * 999)
        #expect(client.received.hasSuffix("0\r\n\r\n"), "the body must end with the last chunk")
        await client.close()
        await server.close()
        try await group.shutdownGracefully()
    }

    @Test("a reader that stops reading is disconnected once too far behind, so the server never buffers without bound")
    func stalledReaderIsDropped() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let record = ProducerRecord()
        // 256 MiB offered; socket buffers on loopback hold a few MiB at most.
        let server = try await Self.startServer(group: group, record: record, chunks: 4096, chunkBytes: 64 << 10)
        let client = try await RawConnection.connect(port: server.port, group: group, reading: false)
        try await client.send("GET / HTTP/1.1\r\nhost: test\r\n\r\n")
        #expect(await eventually(.seconds(30)) { record.ended })
        guard case .tooFarBehind(let behind) = record.error else {
            Issue.record("expected the stalled reader to be dropped, got \(String(describing: record.error)) after \(record.written) bytes")
            return
        }
        #expect(behind > 64 << 10)
        #expect(record.written < 64 << 20, "wrote \(record.written) bytes to a client that reads nothing")
        await client.close()
        await server.close()
        try await group.shutdownGracefully()
    }

    @Test("a client that closes its connection ends the stream that was writing to it")
    func closedClientEndsStream() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let record = ProducerRecord()
        let server = try await Self.startServer(group: group, record: record, chunks: 1, chunkBytes: 10, thenWait: true)
        let client = try await RawConnection.connect(port: server.port, group: group)
        try await client.send("GET / HTTP/1.1\r\nhost: test\r\n\r\n")
        #expect(await client.waitFor("~~~~~~~~~\n", timeout: .seconds(20)))
        #expect(!record.ended)
        await client.close()
        #expect(await eventually(.seconds(20)) { record.ended }, "the producer still runs after its client left")
        await server.close()
        try await group.shutdownGracefully()
    }
}
