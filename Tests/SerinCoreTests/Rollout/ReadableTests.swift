@testable import SerinCore
import Testing

@Suite("Readable numbers and durations")
struct ReadableTests {
    @Test("integers are grouped by thousands", arguments: [
        (0, "0"), (7, "7"), (999, "999"), (1_000, "1,000"), (1_204, "1,204"), (12_345, "12,345"),
        (1_234_567, "1,234,567"), (-1_204, "-1,204"),
    ])
    func grouped(value: Int, expected: String) {
        #expect(Readable.grouped(value) == expected)
    }

    @Test("fixed decimals round and pad", arguments: [
        (96.2, "96.20"), (0, "0.00"), (99.999, "100.00"), (1_234.5, "1,234.50"), (-0.001, "0.00"), (-2.5, "-2.50"), (96.17940199, "96.18"),
    ])
    func fixed(value: Double, expected: String) {
        #expect(Readable.fixed(value, decimals: 2) == expected)
    }

    @Test("trimmed numbers drop trailing zeros", arguments: [
        (99, "99"), (99.5, "99.5"), (812.456, "812.46"), (0.1 + 0.2, "0.3"), (1_000, "1,000"), (0.004, "0"),
    ])
    func trimmed(value: Double, expected: String) {
        #expect(Readable.trimmed(value) == expected)
    }

    @Test("durations read as Flagger writes them", arguments: [
        (Duration.seconds(30), "30s"), (.seconds(60), "1m"), (.seconds(90), "1m30s"), (.seconds(3_600), "1h"),
        (.seconds(3_661), "1h1m1s"), (.milliseconds(500), "500ms"), (.milliseconds(1_500), "1.5s"), (.zero, "0s"),
        (.seconds(-30), "-30s"),
    ])
    func durations(duration: Duration, expected: String) {
        #expect(Readable.duration(duration) == expected)
    }
}
