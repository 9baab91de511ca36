import Testing

@testable import SerinGateway

/// The history analysis reads its windows from: exact for short windows, close for long ones, and bounded by the
/// traffic of the last 15 minutes rather than by how many series the gateway has ever counted.
@Suite("Telemetry history")
struct TelemetryHistoryTests {
    let telemetry = GatewayTelemetry(shardCount: 2)
    let origin = ContinuousClock.now

    func count(_ requests: Int, to host: String, code: Int = 200, shard: Int = 0) {
        for _ in 0..<requests {
            telemetry.record(
                TrafficKey(destinationService: host, responseCode: code), milliseconds: 3, requestBytes: 0, responseBytes: 10,
                shard: shard)
        }
    }

    func at(_ milliseconds: Int) -> ContinuousClock.Instant { origin + .milliseconds(milliseconds) }

    @Test("a short window counts exactly the requests after its start, summed across shards")
    func shortWindowIsExact() {
        let history = TelemetryHistory(telemetry: telemetry)
        count(50, to: "web")
        history.record(at: at(0))
        for step in 1...20 {
            count(step, to: "web", shard: step % 2)
            count(1, to: "web", code: 503)
            history.record(at: at(step * 250))
        }
        // Steps 17...20 fall inside the last second: 17 + 18 + 19 + 20 requests, and one 503 each.
        let (counts, covered) = history.window(.milliseconds(1000), at: at(5000))
        let web = counts.traffic(toHost: "web")
        #expect(web.requests == 17 + 18 + 19 + 20 + 4)
        #expect(web.serverErrors == 4)
        #expect(web.duration.count == web.requests)
        #expect(covered == .milliseconds(1000))
    }

    @Test("fifteen minutes of a busy series sampled every 250 ms keep about 200 samples, and each window finds its start to within its spacing")
    func busySeriesIsThinnedAndStaysClose() {
        let history = TelemetryHistory(telemetry: telemetry)
        let steps = 15 * 60 * 4
        for step in 0...steps {
            count(2, to: "web")
            history.record(at: at(step * 250))
        }
        // 40 samples for the last 10 s, then one a second to a minute, one per 5 s to 5 minutes, one per 15 s.
        #expect(history.sampleCount <= 40 + 50 + 48 + 40 + SeriesSamples.thinningSlack, "samples kept: \(history.sampleCount)")
        let now = at(steps * 250)
        // 8 requests a second: a start found up to `spacing` + one sampling interval early counts that much more.
        for (seconds, spacing) in [(5, 0.0), (30, 1.0), (120, 5.0), (600, 15.0), (840, 15.0)] {
            let sent = seconds * 8
            let counted = history.window(.seconds(seconds), at: now).counts.traffic(toHost: "web").requests
            #expect(counted >= sent && Double(counted) <= Double(sent) + 8 * (spacing + 0.25),
                "\(seconds)s window: \(counted) counted, \(sent) sent")
        }
        #expect(history.window(.seconds(5), at: now).counts.traffic(toHost: "web").requests == 5 * 8, "the last 10 s keep every sample")
    }

    @Test("quiet series cost one sample each: sampling takes only the series that counted something since the last")
    func quietSeriesKeepOneSample() {
        let history = TelemetryHistory(telemetry: telemetry)
        for index in 0..<1000 { count(1, to: "service-\(index)", shard: index % 2) }
        history.record(at: at(0))
        #expect(history.sampleCount == 1000)
        #expect(telemetry.takeChangedSeries().isEmpty)
        // Twenty minutes with traffic to one of them only, past the retention and a sweep.
        for step in 1...(20 * 60 * 4) {
            count(1, to: "service-7")
            history.record(at: at(step * 250))
        }
        #expect(history.sampleCount < 1000 + 200, "samples kept: \(history.sampleCount)")
        let (counts, _) = history.window(.seconds(60), at: at(20 * 60 * 1000))
        #expect(counts.series.count == 1)
        // Within 5 s of the start at a minute back: 4 requests a second.
        let requests = counts.traffic(toHost: "service-7").requests
        #expect(requests >= 60 * 4 && requests <= 65 * 4 + 1, "\(requests) counted")
        #expect(counts.traffic(toHost: "service-3").requests == 0)
    }

    @Test("a series born inside the window counts whole; one counted before the history began counts from the first sample")
    func seriesBirthAndHistoryStart() {
        let history = TelemetryHistory(telemetry: telemetry)
        count(100, to: "old")
        history.record(at: at(0))
        count(5, to: "old")
        history.record(at: at(10_000))
        count(7, to: "new")
        history.record(at: at(20_000))
        count(3, to: "new")
        history.record(at: at(30_000))

        // The window reaches back before the history began: the old series' 100 came before, and are not in it.
        let (long, covered) = history.window(.seconds(60), at: at(30_000))
        #expect(long.traffic(toHost: "old").requests == 5)
        #expect(long.traffic(toHost: "new").requests == 10)
        #expect(covered == .seconds(30), "the history covers 30 s of the 60 asked for")
        // A window starting after the new series' first sample and before its second.
        let (short, _) = history.window(.seconds(5), at: at(30_000))
        #expect(short.traffic(toHost: "new").requests == 3)
        #expect(short.traffic(toHost: "old").requests == 0)
    }

    @Test("before any sample, a window is everything counted so far and covers nothing")
    func noSampleYet() {
        let history = TelemetryHistory(telemetry: telemetry)
        count(4, to: "web")
        let (counts, covered) = history.window(.seconds(30), at: at(0))
        #expect(counts.traffic(toHost: "web").requests == 4)
        #expect(covered == .zero)
    }
}
