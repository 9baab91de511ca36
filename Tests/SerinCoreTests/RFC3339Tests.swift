import Foundation
import SerinCore
import Testing

/// Times in the API and `-o json`: RFC 3339 in UTC, exact both ways, and the old numbers still read.
@Suite("RFC 3339 times")
struct RFC3339Tests {
    @Test("known instants format as RFC 3339 in UTC, with only the fraction digits they need", arguments: [
        (Int64(0), 0, "1970-01-01T00:00:00Z"),
        (951_782_400, 0, "2000-02-29T00:00:00Z"),
        (1_795_921_445, 250_000_000, "2026-11-29T03:04:05.25Z"),
        (-1, 999_999_999, "1969-12-31T23:59:59.999999999Z"),
        (253_402_300_799, 0, "9999-12-31T23:59:59Z"),
    ])
    func formats(seconds: Int64, nanoseconds: Int, expected: String) {
        #expect(RFC3339.format(seconds: seconds, nanoseconds: nanoseconds) == expected)
        #expect(RFC3339.parse(expected).map { [$0.seconds, Int64($0.nanoseconds)] } == [seconds, Int64(nanoseconds)])
    }

    @Test("every day from 1900 to 2100 round-trips, and agrees with Foundation's calendar")
    func everyDayRoundTrips() {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        for day in Int64(-25_567)...Int64(47_482) {
            let seconds = day * 86_400 + 45_296
            let text = RFC3339.format(seconds: seconds)
            #expect(RFC3339.parse(text)?.seconds == seconds, "\(text)")
            if day % 97 == 0 { #expect(formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds))) == text) }
        }
    }

    @Test("offsets, a lower-case t and z, and long fractions are read as RFC 3339 allows")
    func readsVariants() {
        #expect(RFC3339.parse("2026-12-02T05:04:05+02:00")?.seconds == RFC3339.parse("2026-12-02T03:04:05Z")?.seconds)
        #expect(RFC3339.parse("2026-12-02t03:04:05.5z")?.nanoseconds == 500_000_000)
        #expect(RFC3339.parse("2026-12-02T03:04:05.1234567891Z")?.nanoseconds == 123_456_789)
        #expect(RFC3339.instant("1970-01-01T00:00:01.5Z") == RolloutInstant(sinceEpoch: .milliseconds(1_500)))
    }

    @Test("what is not RFC 3339 is not read", arguments: [
        "", "2026-12-02", "2026-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-12-02T24:00:00Z", "2026-12-02T03:04:05",
        "2026-12-02T03:04:05.Z", "2026-12-02T03:04:05Zjunk", "1764644645",
    ])
    func refusesOtherText(text: String) {
        #expect(RFC3339.parse(text) == nil)
    }

    @Test("a status's and a release's times are RFC 3339 in JSON; numbers written by older servers are still read")
    func statusJSON() throws {
        var release = try JSONDecoder().decode(ReleaseStatus.self, from: Data(#"{"stable":"a","canary":"b","outcome":"Promoted","started":1764644645.5}"#.utf8))
        #expect(release.started == 1_764_644_645.5 && release.ended == nil)
        release.ended = 1_764_644_700
        let encoded = String(decoding: try JSONEncoder().encode(release), as: UTF8.self)
        #expect(encoded.contains(#""started":"2025-12-02T03:04:05.5Z""#), "\(encoded)")
        #expect(encoded.contains(#""ended":"2025-12-02T03:05:00Z""#), "\(encoded)")
        #expect(try JSONDecoder().decode(ReleaseStatus.self, from: Data(encoded.utf8)) == release)
        let bad = #"{"stable":"a","canary":"b","outcome":"Promoted","started":"yesterday"}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ReleaseStatus.self, from: Data(bad.utf8)) }
    }

    @Test("a measurement's instant is RFC 3339 to the nanosecond and its window seconds; the old encoding still reads")
    func measurementJSON() throws {
        let measurement = RecordedMeasurement(
            canary: ResourceName(name: "web"), instant: RolloutInstant(sinceEpoch: .seconds(1_764_644_645) + .nanoseconds(123_456_789)),
            metric: "request-success-rate", canaryValue: 99.5, stableValue: 100, canaryRequests: 200, stableRequests: 1_800,
            canaryWeight: 10, window: .milliseconds(30_500), verdict: .pass)
        let json = String(decoding: try JSONEncoder().encode(measurement), as: UTF8.self)
        #expect(json.contains(#""instant":"2025-12-02T03:04:05.123456789Z""#), "\(json)")
        #expect(json.contains(#""window":30.5"#), "\(json)")
        #expect(try JSONDecoder().decode(RecordedMeasurement.self, from: Data(json.utf8)) == measurement)
        // Before: the instant and window as Swift encodes a RolloutInstant and a Duration.
        let instant = String(decoding: try JSONEncoder().encode(measurement.instant), as: UTF8.self)
        let window = String(decoding: try JSONEncoder().encode(Duration.milliseconds(30_500)), as: UTF8.self)
        #expect(instant.contains("sinceEpoch"))
        let old = json.replacingOccurrences(of: #""2025-12-02T03:04:05.123456789Z""#, with: instant)
            .replacingOccurrences(of: #""window":30.5"#, with: #""window":\#(window)"#)
        #expect(try JSONDecoder().decode(RecordedMeasurement.self, from: Data(old.utf8)) == measurement)
    }
}
