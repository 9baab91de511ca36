import Foundation
import SerinTesting
import Testing

/// `serin simulate` from the command line: the user's Canary file, synthetic traffic, numbers out.
@Suite("serin simulate", .timeLimit(.minutes(2)))
struct SimulateCommandTests {
    struct Summary: Decodable {
        var trials: Int
        var promoted: Int
        var rolledBack: Int
        var undecided: Int
        var secondsToDecision: Percentiles?

        struct Percentiles: Decodable {
            var p50: Double
            var p90: Double
        }
    }

    static let canary = "examples/canary/web-canary.yaml"

    @Test("-o json prints one object: a canary failing 5% of requests is rolled back in every trial, a healthy one promoted")
    func jsonSummary() async throws {
        let failing = try await SerinProcess.run(["simulate", "-f", Self.canary, "--canary-error-rate", "0.05", "--trials", "200", "-o", "json"])
        #expect(failing.status == 0, "\(failing.stderr)")
        let rolledBack = try JSONDecoder().decode(Summary.self, from: Data(failing.stdout.utf8))
        #expect(rolledBack.trials == 200 && rolledBack.rolledBack == 200 && rolledBack.undecided == 0, "\(failing.stdout)")
        let decided = try #require(rolledBack.secondsToDecision)
        #expect(decided.p50 > 0 && decided.p50 <= decided.p90)

        let healthy = try await SerinProcess.run(["simulate", "-f", Self.canary, "--trials", "200", "-o", "json"])
        let promoted = try JSONDecoder().decode(Summary.self, from: Data(healthy.stdout.utf8))
        #expect(promoted.promoted == 200, "\(healthy.stdout)")
    }

    @Test("the table names the Canary and each ending's share; the same seed prints the same numbers")
    func tableRepeatsWithTheSeed() async throws {
        let arguments = ["simulate", "-f", Self.canary, "--rps", "3", "--canary-error-rate", "0.02", "--trials", "300", "--seed", "7"]
        let first = try await SerinProcess.run(arguments)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.hasPrefix("web: 300 simulated releases\n"), "\(first.stdout)")
        #expect(first.stdout.contains("  rolled back: "))
        #expect(try await SerinProcess.run(arguments).stdout == first.stdout)
    }

    @Test("files without a Canary, and a rate given in percent, are refused with what to do")
    func refusals() async throws {
        let noCanary = try await SerinProcess.run(["simulate", "-f", "examples/seed"])
        #expect(noCanary.status == 1)
        #expect(noCanary.stderr.contains("the files hold no Canary; give one with -f"), "\(noCanary.stderr)")
        let percent = try await SerinProcess.run(["simulate", "-f", Self.canary, "--canary-error-rate", "5"])
        #expect(percent.status != 0)
        #expect(percent.stderr.contains("--canary-error-rate is a fraction between 0 and 1 (0.05 = 5%), got 5.0"), "\(percent.stderr)")
    }

    /// The example Canary with a third metric, `not-found-percentage`, read by MetricTemplate not-found-percentage's
    /// query (examples/canary/metric-template.yaml); and the line of the templateRef's value, where messages about it point.
    static func templateCanary() throws -> (file: URL, templateRefLine: Int) {
        let example = try String(contentsOf: SerinProcess.repositoryRoot.appendingPathComponent(Self.canary), encoding: .utf8)
        let text = example + """
                - name: not-found-percentage
                  templateRef:
                    name: not-found-percentage
                  thresholdRange:
                    max: 5
                  interval: 8s

            """
        let file = try SerinProcess.temporaryDirectory().appendingPathComponent("template-canary.yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        let line = try #require(text.components(separatedBy: "\n").firstIndex { $0 == "        name: not-found-percentage" }) + 1
        return (file, line)
    }

    @Test("a metric read by a MetricTemplate is said, by name, not to be simulated and why; the other checks decide the releases")
    func templateMetricNotSimulated() async throws {
        let (canary, _) = try Self.templateCanary()
        let template = "examples/canary/metric-template.yaml"
        let table = try await SerinProcess.run(["simulate", "-f", canary.path, "-f", template, "--trials", "200"])
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.hasPrefix("""
            web: 200 simulated releases
              not simulated: metric not-found-percentage: MetricTemplate default/not-found-percentage's query runs on Prometheus, \
            and synthetic traffic gives it no value: the simulated checks leave it out, as if it always passed
              promoted:    200 (100.0%)
            """), "\(table.stdout)")
        #expect(!table.stdout.contains("not enough traffic"), "\(table.stdout)")

        let json = try await SerinProcess.run(["simulate", "-f", canary.path, "-f", template, "--trials", "200", "-o", "json"])
        #expect(json.status == 0, "\(json.stderr)")
        #expect(json.stdout.contains(#""notSimulated":[{"metric":"not-found-percentage","reason":"MetricTemplate default/not-found-percentage's query"#),
                "\(json.stdout)")
        #expect(try JSONDecoder().decode(Summary.self, from: Data(json.stdout.utf8)).promoted == 200, "\(json.stdout)")

        // Without a templateRef nothing is said.
        let plain = try await SerinProcess.run(["simulate", "-f", Self.canary, "--trials", "10"])
        #expect(!plain.stdout.contains("not simulated"), "\(plain.stdout)")
    }

    @Test("a templateRef naming a MetricTemplate that is not in the files is an error at the templateRef's file:line, as serin validate says it, and nothing is simulated")
    func missingMetricTemplateIsAnError() async throws {
        let (canary, line) = try Self.templateCanary()
        let result = try await SerinProcess.run(["simulate", "-f", canary.path, "--trials", "10"])
        #expect(result.status == 1)
        let error = "\(canary.path):\(line):9: error: MetricTemplate default/not-found-percentage does not exist"
        #expect(result.stderr.components(separatedBy: "\n").contains(error), "\(result.stderr)")
        #expect(result.stdout.isEmpty, "\(result.stdout)")
        let validate = try await SerinProcess.run(["validate", "-f", canary.path])
        #expect(validate.stderr.components(separatedBy: "\n").contains(error), "\(validate.stderr)")
    }

    @Test("given beside the routes, a Canary whose targetRef names no VirtualService there is an error at it, as serin validate says it, and nothing is simulated; alone, it is simulated")
    func targetRefCheckedAgainstTheRoutes() async throws {
        let example = try String(contentsOf: SerinProcess.repositoryRoot.appendingPathComponent(Self.canary), encoding: .utf8)
        let typo = example.replacingOccurrences(of: "name: web-virtualservice\n", with: "name: web-virtualservise\n")
        #expect(typo != example)
        let file = try SerinProcess.temporaryDirectory().appendingPathComponent("typo-canary.yaml")
        try typo.write(to: file, atomically: true, encoding: .utf8)
        let beside = try await SerinProcess.run(["simulate", "-f", "examples/seed", "-f", file.path, "--trials", "10"])
        #expect(beside.status == 1)
        #expect(beside.stdout.isEmpty, "\(beside.stdout)")
        let error = "error: VirtualService default/web-virtualservise does not exist (VirtualServices: default/web-virtualservice)"
        #expect(beside.stderr.contains("\(file.path):") && beside.stderr.contains(error), "\(beside.stderr)")
        let validate = try await SerinProcess.run(["validate", "-f", "examples/seed", "-f", file.path])
        #expect(validate.stderr.contains(error), "\(validate.stderr)")
        let alone = try await SerinProcess.run(["simulate", "-f", file.path, "--trials", "10"])
        #expect(alone.status == 0, "\(alone.stderr)")
        // With the Services too, a canary host that resolves to none is the error validate says.
        let hostTypo = example.replacingOccurrences(of: "host: web-v2-service", with: "host: web-v2-servce")
        #expect(hostTypo != example)
        let hostFile = try SerinProcess.temporaryDirectory().appendingPathComponent("host-typo.yaml")
        try hostTypo.write(to: hostFile, atomically: true, encoding: .utf8)
        let unresolved = try await SerinProcess.run(["simulate", "-f", "examples/seed", "-f", hostFile.path, "--trials", "10"])
        #expect(unresolved.status == 1)
        #expect(unresolved.stderr.contains("error: spec.canary.host: web-v2-servce does not resolve to a Service or ServiceEntry"), "\(unresolved.stderr)")
        // The right Canary beside its VirtualService alone, without the Services it routes to: simulated.
        let virtualService = SerinProcess.repositoryRoot.appendingPathComponent("examples/seed/web-gateway-virtualservice.yaml").path
        let routesOnly = try await SerinProcess.run(["simulate", "-f", virtualService, "-f", Self.canary, "--trials", "10"])
        #expect(routesOnly.status == 0, "\(routesOnly.stderr)")
    }

    @Test("a name several Canaries in the files answer to is refused, each listed as NAMESPACE/NAME with its file:line, with how to pick one; NAMESPACE/NAME picks it, as serin status takes it")
    func ambiguousNameIsRefused() async throws {
        let example = try String(contentsOf: SerinProcess.repositoryRoot.appendingPathComponent(Self.canary), encoding: .utf8)
        let shopText = example.replacingOccurrences(of: "  name: web\n", with: "  name: web\n  namespace: shop\n")
        #expect(shopText != example)
        let shop = try SerinProcess.temporaryDirectory().appendingPathComponent("shop-canary.yaml")
        try shopText.write(to: shop, atomically: true, encoding: .utf8)
        let start = try #require(example.components(separatedBy: "\n").firstIndex { $0.hasPrefix("apiVersion:") }) + 1

        let ambiguous = try await SerinProcess.run(["simulate", "-f", Self.canary, "-f", shop.path, "web", "--trials", "10"])
        #expect(ambiguous.status == 1)
        #expect(ambiguous.stdout.isEmpty, "\(ambiguous.stdout)")
        #expect(ambiguous.stderr == """
            serin simulate: 2 Canaries in the files are named web: default/web (\(Self.canary):\(start):1), shop/web (\(shop.path):\(start):1); \
            name one as NAMESPACE/NAME (for example: serin simulate -f ... default/web)

            """, "\(ambiguous.stderr)")
        // Without a name the same list.
        let unnamed = try await SerinProcess.run(["simulate", "-f", Self.canary, "-f", shop.path, "--trials", "10"])
        #expect(unnamed.status == 1)
        #expect(unnamed.stderr.hasPrefix("serin simulate: the files hold 2 Canaries: default/web (\(Self.canary):\(start):1), shop/web ("),
                "\(unnamed.stderr)")

        let picked = try await SerinProcess.run(["simulate", "-f", Self.canary, "-f", shop.path, "shop/web", "--trials", "10"])
        #expect(picked.status == 0, "\(picked.stderr)")
        #expect(picked.stdout.hasPrefix("shop/web: 10 simulated releases\n"), "\(picked.stdout)")

        // examples/analysis: three default/web, which only their files tell apart.
        let same = try await SerinProcess.run(["simulate", "-f", "examples/analysis", "web", "--trials", "10"])
        #expect(same.status == 1)
        #expect(same.stderr.hasPrefix("serin simulate: 3 Canaries in the files are named web: default/web (examples/analysis/flagger-defaults.yaml:"),
                "\(same.stderr)")
        #expect(same.stderr.hasSuffix(
            "; they share their namespace and name, so give only the file of the one to simulate with -f "
                + "(for example: serin simulate -f examples/analysis/flagger-defaults.yaml)\n"), "\(same.stderr)")

        let malformed = try await SerinProcess.run(["simulate", "-f", Self.canary, "Web?"])
        #expect(malformed.status != 0 && malformed.status != 1)
        #expect(malformed.stderr.contains(#"a Canary is named NAME or NAMESPACE/NAME, each lowercase letters, digits, '-' and '.' (web, shop/web), got "Web?""#),
                "\(malformed.stderr)")
    }

    /// A bad release as `serin history web -o json` prints it: for 14 minutes the canary failed 5% of its
    /// requests (100 a second in all), a check every 30 s; the Canary of the day allowed that and promoted it.
    static func badRelease() throws -> URL {
        let start = 1_700_000_000.0
        let measurements = (1...28).flatMap { look in
            let (time, weight) = (start + Double(look) * 30, min(50, look * 10))
            let (canary, stable) = (30 * weight, 30 * (100 - weight))
            return [
                ["time": time, "metric": "request-success-rate", "canary": 95.0, "stable": 99.9, "canaryRequests": canary,
                 "stableRequests": stable, "canaryWeight": weight, "window": 30.0, "verdict": "pass"],
                ["time": time, "metric": "request-duration", "canary": 70.0, "stable": 64.0, "canaryRequests": canary,
                 "stableRequests": stable, "canaryWeight": weight, "window": 30.0, "verdict": "pass"],
            ] as [[String: Any]]
        }
        let history: [String: Any] = [
            "releases": [["stable": "web-v1-service:80", "canary": "web-v2-service:80", "outcome": "Promoted", "started": start, "ended": start + 850]],
            "events": [], "measurements": measurements,
        ]
        let file = try SerinProcess.temporaryDirectory().appendingPathComponent("web-history.json")
        try JSONSerialization.data(withJSONObject: history).write(to: file)
        return file
    }

    /// The example Canary (success rate at least 99%, checks every 8 s) with a looser success rate.
    static func lenientCanary(minimumSuccessRate: Int, beside file: URL) throws -> URL {
        let example = try String(contentsOf: SerinProcess.repositoryRoot.appendingPathComponent(Self.canary), encoding: .utf8)
        let lenient = example.replacingOccurrences(of: "min: 99", with: "min: \(minimumSuccessRate)")
        #expect(lenient != example)
        let url = file.deletingLastPathComponent().appendingPathComponent("lenient-canary.yaml")
        try lenient.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test("--replay: the recorded bad release is promoted by a Canary allowing 10% failures and rolled back by one allowing 1%")
    func replayThroughChangedCanaries() async throws {
        let history = try Self.badRelease()
        let lenient = try Self.lenientCanary(minimumSuccessRate: 90, beside: history)
        let promoted = try await SerinProcess.run(["simulate", "-f", lenient.path, "--replay", history.path, "--trials", "200", "-o", "json"])
        #expect(promoted.status == 0, "\(promoted.stderr)")
        let allowed = try JSONDecoder().decode(Summary.self, from: Data(promoted.stdout.utf8))
        #expect(allowed.trials == 200 && allowed.promoted == 200, "\(promoted.stdout)")

        let strict = try await SerinProcess.run(["simulate", "-f", Self.canary, "--replay", history.path, "--trials", "200", "-o", "json"])
        #expect(strict.status == 0, "\(strict.stderr)")
        let caught = try JSONDecoder().decode(Summary.self, from: Data(strict.stdout.utf8))
        #expect(caught.trials == 200 && caught.rolledBack == 200 && caught.undecided == 0, "\(strict.stdout)")
    }

    @Test("--replay's table says what was replayed; - reads the history from standard input")
    func replayTableAndStandardInput() async throws {
        let history = try Self.badRelease()
        let table = try await SerinProcess.run(["simulate", "-f", Self.canary, "--replay", history.path, "--trials", "50"])
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.hasPrefix(
            "replaying release web-v2-service:80 of \(history.path): 14m of recorded traffic, 28 segments\nweb: 50 simulated releases\n"),
            "\(table.stdout)")
        #expect(table.stdout.contains("  rolled back: 50 (100.0%)"), "\(table.stdout)")

        let piped = try await SerinProcess.run(
            ["-c", #"exec "$0" simulate -f "$1" --replay - --trials 50 < "$2""#, SerinProcess.executable.path, Self.canary, history.path],
            program: URL(fileURLWithPath: "/bin/sh"))
        #expect(piped.status == 0, "\(piped.stderr)")
        #expect(piped.stdout.hasPrefix("replaying release web-v2-service:80 of standard input: 14m"), "\(piped.stdout)")
        #expect(piped.stdout.components(separatedBy: "\n").dropFirst() == table.stdout.components(separatedBy: "\n").dropFirst())
    }

    @Test("--replay refuses traffic flags beside it, a missing file, malformed JSON and a history without request counts")
    func replayRefusals() async throws {
        let history = try Self.badRelease()
        let both = try await SerinProcess.run(["simulate", "-f", Self.canary, "--replay", history.path, "--canary-error-rate", "0.05"])
        #expect(both.status != 0)
        #expect(both.stderr.contains("--replay and --canary-error-rate cannot be used together"), "\(both.stderr)")

        let missing = history.deletingLastPathComponent().appendingPathComponent("nothing.json").path
        let absent = try await SerinProcess.run(["simulate", "-f", Self.canary, "--replay", missing])
        #expect(absent.status == 1)
        #expect(absent.stderr.contains("serin simulate: --replay \(missing): no such file"), "\(absent.stderr)")

        let malformed = history.deletingLastPathComponent().appendingPathComponent("malformed.json")
        try Data(#"{"releases": [{"stable": "web-v1-service:80"}], "events": [], "measurements": []}"#.utf8).write(to: malformed)
        let unreadable = try await SerinProcess.run(["simulate", "-f", Self.canary, "--replay", malformed.path])
        #expect(unreadable.status == 1)
        #expect(unreadable.stderr.contains(
            "serin simulate: --replay \(malformed.path) is not a Canary's history (serin history NAME -o json): releases[0].canary is missing"),
            "\(unreadable.stderr)")
        try Data("{\"releases\": [".utf8).write(to: malformed)
        let truncated = try await SerinProcess.run(["simulate", "-f", Self.canary, "--replay", malformed.path])
        #expect(truncated.status == 1)
        // Foundation's words differ between platforms; both say it is not valid JSON.
        #expect(truncated.stderr.contains("\(malformed.path) is not a Canary's history (serin history NAME -o json): ")
            && truncated.stderr.contains("not valid JSON"), "\(truncated.stderr)")

        try Data("\n".utf8).write(to: malformed)
        let empty = try await SerinProcess.run(["simulate", "-f", Self.canary, "--replay", malformed.path])
        #expect(empty.status == 1)
        #expect(empty.stderr.contains("serin simulate: --replay \(malformed.path) is empty; expected the output of serin history NAME -o json"),
            "\(empty.stderr)")

        let countless = history.deletingLastPathComponent().appendingPathComponent("countless.json")
        try Data(#"{"releases": [{"stable": "a", "canary": "b", "outcome": "Promoted", "started": 1}], "events": [], "measurements": []}"#.utf8)
            .write(to: countless)
        let noCounts = try await SerinProcess.run(["simulate", "-f", Self.canary, "--replay", countless.path])
        #expect(noCounts.status == 1)
        #expect(noCounts.stderr.contains(
            "serin simulate: --replay: \(countless.path) holds no request-success-rate measurements for the last release; replay needs request counts"),
            "\(noCounts.stderr)")
    }
}
