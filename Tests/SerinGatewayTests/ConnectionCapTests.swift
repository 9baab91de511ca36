import SerinGateway
import Testing

@Suite("ConnectionCap")
struct ConnectionCapTests {
    @Test("the cap is warned of where it bites (a --max-connections written over it, or fewer than 512 connections), else said at debug level, and not at all when the limit holds what was asked")
    func saidWhereItBites() {
        let roomy = ConnectionCap(asked: 16_384, written: false, openFiles: 1 << 20)
        #expect(roomy.connections == 16_384 && roomy.notice == nil)
        let underDefault = ConnectionCap(asked: 16_384, written: false, openFiles: 20_000)
        #expect(underDefault.connections == 9_872 && underDefault.notice?.level == .debug)
        let underWritten = ConnectionCap(asked: 16_384, written: true, openFiles: 20_000)
        #expect(underWritten.connections == 9_872 && underWritten.notice?.level == .warning)
        #expect(underWritten.notice?.message.contains("--max-connections 16384 needs a higher one") == true)
        // A hard limit of 1,024 holds 384: low enough to warn of under the default too.
        let low = ConnectionCap(asked: 16_384, written: false, openFiles: 1_024)
        #expect(low.connections == 384 && low.notice?.level == .warning)
    }
}
