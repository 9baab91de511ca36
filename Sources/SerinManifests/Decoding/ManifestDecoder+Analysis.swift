import Foundation
import SerinCore
import Yams

extension ManifestDecoder {
    /// A Canary's `analysis`: what is omitted takes `AnalysisSpec`'s defaults, and no `metrics` list
    /// means the built-in checks (`MetricCheck.builtInDefaults`). A `flagger.app` Canary's (`flagger`) takes
    /// Flagger's instead, so a file written for Flagger releases as it did there: `threshold` 1, no `metrics` list
    /// no metric checks (its webhooks alone gate it), and a check with nothing to judge a failed one (`noValuesFail`);
    /// an `interval` below 10s, which Flagger raises to 10s, is warned of.
    static func analysis(_ field: Field, namespace: String, flagger: Bool = false, reader: DocumentReader) -> AnalysisSpec? {
        let schema = Schema(
            known: [
                "interval", "threshold", "stepWeight", "maxWeight", "stepWeights", "iterations", "match", "metrics", "webhooks",
                "judge", "statistical", "stickiness", "stepWeightPromotion", "mirror", "mirrorWeight", "sessionAffinity",
                "load", "alerts", "primaryReadyThreshold", "canaryReadyThreshold",
            ]
        )
        guard let fields = reader.mapping(field, schema) else { return nil }
        let schedule = weightSchedule(in: fields, reader: reader)
        let matchField = fields["match"]
        let match = matchField.flatMap { abMatch($0, in: fields, namespace: namespace, reader: reader) }
        let interval = fields["interval"].flatMap(reader.duration)
        if flagger, let written = interval, written < Self.flaggerMinimumInterval, let intervalField = fields["interval"] {
            reader.warning(
                "\(intervalField.path) is \(Readable.duration(written)): Serin checks that often, where Flagger would raise it to 10s, "
                    + "so each step here takes less traffic than under Flagger",
                at: intervalField.node)
        }
        let threshold = fields["threshold"].flatMap(reader.int)
        let stepWeightPromotion = fields["stepWeightPromotion"].flatMap(reader.int)
        let primaryReady = fields["primaryReadyThreshold"].map { readyThreshold($0, of: "primary", reader: reader) }
        let canaryReady = fields["canaryReadyThreshold"].map { readyThreshold($0, of: "canary", reader: reader) }
        let metrics = fields["metrics"].flatMap { metricsField in
            reader.list(metricsField) { metric($0, namespace: namespace, reader: reader) }
        }
        let webhooks = fields["webhooks"].flatMap { webhooksField in
            reader.list(webhooksField) { webhook($0, reader: reader) }
        }
        let judge = judgeSettings(in: fields, reader: reader)
        let alertsField = fields["alerts"]
        let alerts = alertsField.flatMap { reader.list($0) { alert($0, namespace: namespace, reader: reader) } }
        let stickinessField = fields["stickiness"]
        let stickiness = stickinessField.flatMap { stickyKey($0, reader: reader) }
        if let stickinessField, stickiness != nil, fields["iterations"] != nil, fields["stepWeightPromotion"] == nil {
            reader.warning(
                "\(stickinessField.path) splits nothing here: with iterations no weight moves step by step (blue/green's "
                    + "switch is 0 → 100); it applies with stepWeightPromotion, which promotes in steps",
                at: stickinessField.node)
        }
        let mirror = mirrorShare(in: fields, reader: reader)
        let affinityField = fields["sessionAffinity"]
        let affinityRead = affinityField.flatMap { sessionAffinity($0, in: fields, reader: reader) }
        var affinity = affinityRead
        if let affinityField, affinity != nil, fields["iterations"] != nil, fields["match"] == nil {
            reader.warning(
                "\(affinityField.path) is left out beside \(fields.owner.path(of: "iterations")), as Flagger leaves it: blue/green keeps "
                    + "all live traffic on stable until its switch to the canary, so there is no cohort to keep",
                at: affinityField.node)
            affinity = nil
        }
        let loadField = fields["load"]
        // Looking costs the statistical judge nothing, and every look may decide: it looks every 5s unless told. (The
        // kind as written, when the rest of the judge was refused: the deadline is then not held to another default.)
        let writtenKind = fields["judge"].flatMap { field -> JudgeSettings.Kind? in
            guard case .scalar(let scalar) = field.node else { return nil }
            return JudgeSettings.Kind(rawValue: scalar.string)
        }
        let everyInterval = interval ?? ((judge?.kind ?? writtenKind) == .statistical ? .seconds(5) : AnalysisSpec.defaultInterval)
        let load = loadField.flatMap { syntheticLoad($0, interval: everyInterval, reader: reader) }
        let complete = schedule != nil && judge != nil && (stickinessField == nil || stickiness != nil)
            && (matchField == nil || match != nil) && mirror != nil && (affinityField == nil || affinityRead != nil)
            && (loadField == nil || load != nil) && (alertsField == nil || alerts != nil)
            && primaryReady != .some(nil) && canaryReady != .some(nil)
        // A part refused has said why. The rest is still given to the Canary's checks, with stand-ins for what was
        // refused, so that one pass says every problem (a stepWeight of 250 and a threshold of -3 together); the
        // document is malformed, so no Canary is produced from it.
        guard complete || reader.isMalformed else { return nil }
        var steps = schedule ?? standInSchedule(in: fields)
        // Beside weight steps, Flagger mirrors for one step at weight 0 before the weights rise: that step is the
        // schedule's (a stand-in's too, so a refused stepWeight is not also blamed on mirror).
        if case .some(.some) = mirror, !steps.isBlueGreen, let mirrored = try? WeightSchedule(mirroringFirst: steps) { steps = mirrored }
        var analysis = AnalysisSpec(schedule: steps, judge: judge ?? .threshold)
        analysis.interval = everyInterval
        if let threshold { analysis.threshold = threshold } else if flagger { analysis.threshold = Self.flaggerDefaultThreshold }
        if let metrics { analysis.metrics = metrics } else if flagger { analysis.metrics = [] }
        analysis.noValuesFail = flagger
        if let webhooks { analysis.webhooks = webhooks }
        analysis.stickiness = stickiness
        analysis.match = match ?? []
        analysis.stepWeightPromotion = stepWeightPromotion
        analysis.mirror = mirror ?? nil
        analysis.sessionAffinity = affinity
        analysis.load = load
        analysis.alerts = alerts ?? []
        if case .some(.some(let percent)) = primaryReady { analysis.primaryReadyThreshold = percent }
        if case .some(.some(let percent)) = canaryReady { analysis.canaryReadyThreshold = percent }
        return analysis
    }

    /// Flagger's floor under `analysis.interval` (`GetAnalysisInterval`), and its `threshold` when none is written
    /// (`GetAnalysisThreshold`).
    static let flaggerMinimumInterval: Duration = .seconds(10)
    static let flaggerDefaultThreshold = 1

    /// Flagger's `primaryReadyThreshold` or `canaryReadyThreshold`: the percentage (0-100) of the Deployment's
    /// updated replicas that must be available for it to count as ready.
    private static func readyThreshold(_ field: Field, of deployment: String, reader: DocumentReader) -> Int? {
        guard let percent = reader.int(field) else { return nil }
        guard (0...100).contains(percent) else {
            reader.error(
                "\(field.path) is \(percent), expected a percentage from 0 to 100 of the \(deployment) Deployment's updated replicas "
                    + "that must be available (default 100)",
                at: field.node)
            return nil
        }
        return percent
    }

    /// Flagger's mirroring: `mirror: true` (not beside `match`), and `mirrorWeight`, the percentage of requests copied
    /// to the canary (1-100, default 100): in every iteration beside `iterations` (blue/green), in a first step at weight
    /// 0 beside weight steps. nil: refused, said where; `.some(nil)`: no mirroring.
    private static func mirrorShare(in fields: Fields, reader: DocumentReader) -> Percent?? {
        let weightField = fields["mirrorWeight"]
        guard let mirrorField = fields["mirror"] else {
            if let weightField {
                reader.error("\(weightField.path) is set without \(fields.owner.path(of: "mirror")): true; write mirror: true to copy requests to the canary", at: weightField.node)
                return nil
            }
            return .some(nil)
        }
        guard let on = reader.bool(mirrorField) else { return nil }
        guard on else {
            if let weightField {
                reader.error("\(weightField.path) is set but \(mirrorField.path) is false; remove mirrorWeight or write mirror: true", at: weightField.node)
                return nil
            }
            return .some(nil)
        }
        if fields["match"] != nil {
            reader.error(
                "\(mirrorField.path) cannot be beside \(fields.owner.path(of: "match")): A/B testing sends the matching requests "
                    + "themselves to the canary, mirroring sends copies; write one of them",
                at: mirrorField.node)
            return nil
        }
        guard let weightField else { return Percent.all }
        guard let weight = reader.int(weightField) else { return nil }
        guard (1...100).contains(weight) else {
            reader.error("\(weightField.path) is \(weight), expected a percentage of requests from 1 to 100", at: weightField.node)
            return nil
        }
        return Percent(Double(weight))
    }

    /// Flagger's A/B testing: `match`, a non-empty list in a VirtualService's match vocabulary, beside `iterations`.
    private static func abMatch(_ field: Field, in fields: Fields, namespace: String, reader: DocumentReader) -> [RequestMatch]? {
        guard fields["iterations"] != nil else {
            reader.error(
                "\(field.path) (A/B testing) needs \(fields.owner.path(of: "iterations")): matching requests reach the canary "
                    + "for that many analyses, the rest stay on stable; stepWeight, maxWeight and stepWeights shift all traffic instead",
                at: field.node)
            return nil
        }
        // A condition Serin does not read would not narrow the match: every request would reach the canary. So here a
        // field Serin does not know is an error, not the warning it is in a VirtualService.
        guard let entries = reader.list(field) else { return nil }
        let matches = reader.readingStrictly { entries.compactMap { requestMatch($0, namespace: namespace, reader: reader) } }
        guard matches.count == entries.count else { return nil }
        guard !matches.isEmpty else {
            reader.error("\(field.path) is empty, expected at least one match (headers, cookies via the cookie header, queryParams...)", at: field.node)
            return nil
        }
        for (match, entry) in zip(matches, entries) where !match.narrows {
            reader.error(
                "\(entry.path) has no condition Serin applies (uri, method, authority, headers, withoutHeaders, queryParams, "
                    + "sourceLabels...): every request would match it and reach the canary",
                at: entry.node)
            return nil
        }
        // Conditions written but true of every request (`uri: {prefix: /}`, `regex: ".*"`) narrow nothing either.
        for (match, entry) in zip(matches, entries) where match.admitsEveryRequest {
            reader.error(
                "\(entry.path) matches every request (its conditions hold for any): all the routes' requests would reach the "
                    + "canary from the first iteration, blue/green's switch rather than A/B testing; narrow it with a header, "
                    + "a cookie (the cookie header) or a query parameter",
                at: entry.node)
            return nil
        }
        return matches
    }

    /// `stickiness: {header: NAME}` or `{cookie: NAME}`: exactly one, named by an HTTP token. A header name is
    /// kept lower-cased (header names ignore case); a cookie name as written (cookie names do not).
    private static func stickyKey(_ field: Field, reader: DocumentReader) -> Stickiness? {
        guard let fields = reader.mapping(field, Schema(known: ["header", "cookie"])) else { return nil }
        let written = ["header", "cookie"].compactMap { key in fields[key].map { (key, $0) } }
        guard written.count == 1, let (key, nameField) = written.first else {
            let got = written.isEmpty ? "neither" : "both"
            reader.error("\(field.path): expected header or cookie (one request key to stick on), got \(got)", at: field.node)
            return nil
        }
        guard let name = token(nameField, naming: key, reader: reader) else { return nil }
        return key == "header" ? .header(name.lowercased()) : .cookie(name)
    }

    /// Whether `name` is an HTTP token (RFC 9110 §5.6.2), as header and cookie names must be.
    static func isToken(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { byte in byte > 0x20 && byte < 0x7F && !#"()<>@,;:\"/[]?={}"#.utf8.contains(byte) }
    }

    /// A header or cookie name: an HTTP token, reported with where it is when it is not one.
    private static func token(_ field: Field, naming what: String, reader: DocumentReader) -> String? {
        guard let name = reader.string(field) else { return nil }
        guard isToken(name) else {
            reader.error("\(field.path) is \"\(name)\", expected a \(what) name (letters, digits and -._~!#$%&'*+^`|)", at: field.node)
            return nil
        }
        return name
    }

    /// Flagger's `sessionAffinity: {cookieName, maxAge, primaryCookieName}` and the cookies' attributes (`domain`,
    /// `httpOnly`, `partitioned`, `path`, `sameSite`, `secure`). Refused beside `stickiness` (two rules
    /// would pin the same client) and beside `match` (A/B testing sends by request, not by weight); beside
    /// `iterations` it is read and left out with a warning, as Flagger ignores it there (blue/green moves no weight
    /// until its switch, so there is no cohort to keep).
    private static func sessionAffinity(_ field: Field, in analysis: Fields, reader: DocumentReader) -> SessionAffinity? {
        let schema = Schema(
            known: ["cookieName", "maxAge", "primaryCookieName", "domain", "httpOnly", "partitioned", "path", "sameSite", "secure"])
        guard let fields = reader.mapping(field, schema) else { return nil }
        for (other, why) in [
            ("stickiness", "stickiness pins clients by a key they already send, sessionAffinity by a cookie the gateway sets; keep one"),
            ("match", "A/B testing sends requests to the canary by what they match, not by weight, so there is no cohort to keep"),
        ] where analysis[other] != nil {
            reader.error("\(field.path) cannot be combined with \(analysis.owner.path(of: other)): \(why)", at: field.node)
            return nil
        }
        guard let cookieField = reader.required("cookieName", in: fields) else { return nil }
        let cookieName = token(cookieField, naming: "cookie", reader: reader)
        let primaryCookieName = fields["primaryCookieName"].flatMap { token($0, naming: "cookie", reader: reader) }
        let maxAge = fields["maxAge"].flatMap(reader.int)
        if let maxAgeField = fields["maxAge"], let maxAge, maxAge <= 0 {
            reader.error("\(maxAgeField.path) is \(maxAge), expected seconds a client keeps the cookie (above 0; default 86400)", at: maxAgeField.node)
            return nil
        }
        let attributes = cookieAttributes(fields, reader: reader)
        guard let cookieName, let attributes, fields["primaryCookieName"] == nil || primaryCookieName != nil,
            fields["maxAge"] == nil || maxAge != nil
        else {
            return nil
        }
        if let primaryCookieName, primaryCookieName == cookieName, let primaryField = fields["primaryCookieName"] {
            reader.error("\(primaryField.path) is \"\(cookieName)\", the same as cookieName: the stable's cookie needs a name of its own", at: primaryField.node)
            return nil
        }
        return SessionAffinity(
            cookieName: cookieName, maxAge: maxAge ?? SessionAffinity.defaultMaxAge, primaryCookieName: primaryCookieName,
            attributes: attributes)
    }

    /// The cookie attributes of a `sessionAffinity`, as Flagger writes them into `Set-Cookie`; an empty `domain` or
    /// `path` is left out, as Flagger leaves it. nil: one is refused, said where.
    private static func cookieAttributes(_ fields: Fields, reader: DocumentReader) -> CookieAttributes? {
        var attributes = CookieAttributes()
        var valid = true
        func flag(_ key: String, _ path: WritableKeyPath<CookieAttributes, Bool>) {
            guard let field = fields[key] else { return }
            if let on = reader.bool(field) { attributes[keyPath: path] = on } else { valid = false }
        }
        flag("httpOnly", \.httpOnly)
        flag("partitioned", \.partitioned)
        flag("secure", \.secure)
        // A value goes into the header as written: one that would end the attribute or the header is refused.
        func text(_ key: String, expected: String, allowed: (Unicode.Scalar) -> Bool) -> String? {
            guard let field = fields[key], let value = reader.string(field) else {
                if fields[key] != nil { valid = false }
                return nil
            }
            guard value.unicodeScalars.allSatisfy(allowed) else {
                reader.error("\(field.path) is \"\(value)\", expected \(expected)", at: field.node)
                valid = false
                return nil
            }
            return value.isEmpty ? nil : value
        }
        attributes.domain = text("domain", expected: "a host name like example.com (letters, digits, . and -)") {
            $0.properties.isAlphabetic && $0.isASCII || ("0"..."9").contains($0) || $0 == "." || $0 == "-"
        }
        attributes.path = text("path", expected: "a path like /app, without ; or control characters") {
            $0.value > 0x20 && $0.value < 0x7F && $0 != ";"
        }
        if let path = attributes.path, !path.hasPrefix("/"), let field = fields["path"] {
            reader.error("\(field.path) is \"\(path)\", expected a path starting with / (like /app)", at: field.node)
            valid = false
        }
        if let field = fields["sameSite"], let value = reader.string(field) {
            if let sameSite = CookieAttributes.SameSite(rawValue: value) {
                attributes.sameSite = sameSite
            } else if !value.isEmpty {
                let allowed = CookieAttributes.SameSite.allCases.map(\.rawValue).joined(separator: ", ")
                reader.error("\(field.path) is \"\(value)\", expected one of \(allowed) (as Flagger allows)", at: field.node)
                valid = false
            }
        } else if fields["sameSite"] != nil {
            valid = false
        }
        if attributes.sameSite == CookieAttributes.SameSite.none, !attributes.secure, let field = fields["sameSite"] {
            reader.warning(
                "\(field.path) is None without \(fields.owner.path(of: "secure")): true: browsers refuse such a cookie, so no client is kept",
                at: field.node)
        }
        return valid ? attributes : nil
    }

    /// `judge: threshold | statistical` and the statistical judge's `statistical` settings; what is omitted takes
    /// `JudgeSettings`' defaults. Settings without `judge: statistical` are refused: they would silently do nothing.
    private static func judgeSettings(in fields: Fields, reader: DocumentReader) -> JudgeSettings? {
        var settings = JudgeSettings.threshold
        if let judgeField = fields["judge"] {
            guard let name = reader.string(judgeField) else { return nil }
            guard let kind = JudgeSettings.Kind(rawValue: name) else {
                reader.error("\(judgeField.path) is \(name), expected threshold, statistical or mannWhitney", at: judgeField.node)
                return nil
            }
            settings.kind = kind
        }
        guard let statisticalField = fields["statistical"] else { return settings }
        guard settings.kind != .threshold else {
            reader.error("\(statisticalField.path) is set but \(fields.owner.path(of: "judge")) is threshold: set judge: statistical, or remove it",
                         at: statisticalField.node)
            return nil
        }
        let schema = Schema(known: ["confidence", "errorRateIncrease", "latencyIncrease", "minStepDuration", "maxStepDuration"])
        guard let statistical = reader.mapping(statisticalField, schema) else { return nil }
        var valid = true
        func read<Value>(_ key: String, _ parse: (Field) -> Value?, into path: WritableKeyPath<JudgeSettings, Value>) {
            guard let field = statistical[key] else { return }
            if let value = parse(field) { settings[keyPath: path] = value } else { valid = false }
        }
        read("confidence", reader.number, into: \.confidence)
        read("errorRateIncrease", reader.number, into: \.errorRateIncrease)
        read("latencyIncrease", reader.number, into: \.latencyIncrease)
        read("minStepDuration", reader.duration, into: \.minStepDuration)
        if let field = statistical["maxStepDuration"] {
            if let value = reader.duration(field) { settings.maxStepDuration = value } else { valid = false }
        }
        return valid ? settings : nil
    }

    /// What stands in for a refused schedule while the rest of a malformed Canary is checked: of the same kind
    /// (blue/green when `iterations` is written), so that no check complains of a kind the Canary does not have.
    private static func standInSchedule(in fields: Fields) -> WeightSchedule {
        // Both are valid by WeightSchedule's own rules: neither can throw.
        fields["iterations"] != nil ? try! WeightSchedule(iterations: 1) : try! WeightSchedule(stepWeights: [50])
    }

    /// Flagger's `stepWeight` with `maxWeight`, its `stepWeights` list (taken over both, as Flagger takes it), or its
    /// blue/green `iterations`; never `iterations` beside weights, since which would win is a guess.
    private static func weightSchedule(in fields: Fields, reader: DocumentReader) -> WeightSchedule? {
        let analysis = fields.owner
        let stepWeightField = fields["stepWeight"]
        let maxWeightField = fields["maxWeight"]
        if let iterationsField = fields["iterations"] {
            if let other = ["stepWeight", "maxWeight", "stepWeights"].first(where: { fields[$0] != nil }) {
                reader.error(
                    "\(iterationsField.path) cannot be combined with \(other): iterations is blue/green (the canary takes no "
                        + "live traffic until promotion), \(other) shifts traffic step by step; write one of them",
                    at: iterationsField.node
                )
                return nil
            }
            guard let count = reader.int(iterationsField) else { return nil }
            return schedule(in: analysis, reader: reader) { () throws(WeightScheduleError) in
                try WeightSchedule(iterations: count)
            }
        }
        if let listField = fields["stepWeights"] {
            // Flagger's maxWeight beside stepWeights is the list's last: ignored, said. Its stepWeight beside them wins
            // (steps of stepWeight up to the list's last), where the list is plainly meant: one or the other.
            if let maxWeightField {
                reader.warning(
                    "\(maxWeightField.path) is ignored beside \(listField.path), as Flagger ignores it: the list's last step is the highest",
                    at: maxWeightField.node)
            }
            if let stepWeightField {
                reader.error(
                    "\(stepWeightField.path) beside \(listField.path): write one of them (Flagger would step by stepWeight up to the list's last weight and pass over the rest of the list)",
                    at: stepWeightField.node)
            }
            guard let steps = reader.list(listField, each: { pacedStep($0, reader: reader) }) else { return nil }
            return schedule(in: analysis, reader: reader) { () throws(WeightScheduleError) in
                try WeightSchedule(pacedSteps: steps)
            }
        }
        guard let stepWeightField else {
            let missing = maxWeightField == nil ? "none of them" : "maxWeight alone"
            reader.error(
                "\(analysis.path): expected stepWeight (with maxWeight, 100 when left out, as in Flagger), stepWeights, or iterations (blue/green), got \(missing)",
                at: analysis.node)
            return nil
        }
        guard let stepWeight = reader.int(stepWeightField) else { return nil }
        // Flagger's default maxWeight is 100: stepWeight alone climbs by its steps below 100%, then promotes. Written
        // as 100 (Flagger takes 0-100), it means the same: promotion is what sends 100%.
        let belowAll = (1..<100).contains(stepWeight) ? stepWeight * (99 / stepWeight) : stepWeight
        var maxWeight = belowAll
        if let maxWeightField {
            guard let written = reader.int(maxWeightField) else { return nil }
            if written != 100 { maxWeight = written }
        }
        return schedule(in: analysis, reader: reader) { () throws(WeightScheduleError) in
            try WeightSchedule(stepWeight: stepWeight, maxWeight: maxWeight)
        }
    }

    /// One `stepWeights` entry: a weight (`25`), or a paced step (`{weight: 25, pause: 10m}`, `{weight: 50, pause: promote}`).
    private static func pacedStep(_ field: Field, reader: DocumentReader) -> WeightSchedule.PacedStep? {
        guard case .mapping = field.node else {
            return reader.int(field).map { WeightSchedule.PacedStep(weight: $0) }
        }
        // A slip in a paced step (`paus: 10m`) would drop its hold without a word and release faster than written:
        // here a field Serin does not know is an error, as in A/B testing's match.
        let read = reader.readingStrictly { reader.mapping(field, Schema(known: ["weight", "pause"])) }
        guard let fields = read, let weightField = reader.required("weight", in: fields) else { return nil }
        let weight = reader.int(weightField)
        let pause = fields["pause"].map { stepPause($0, reader: reader) }
        guard let weight, pause != .some(nil) else { return nil }
        return WeightSchedule.PacedStep(weight: weight, pause: pause ?? nil)
    }

    /// A step's `pause`: a duration above zero (`10m`), or `promote` (hold until `serin promote`).
    private static func stepPause(_ field: Field, reader: DocumentReader) -> StepPause? {
        let expected = "expected a duration like 10m or \"promote\""
        guard case .scalar(let scalar) = field.node, field.node.tagName == .str else {
            reader.error("\(field.path): \(expected), got \(field.node.valueDescription)", at: field.node)
            return nil
        }
        if scalar.string == "promote" { return .promote }
        guard let duration = DurationText.parse(scalar.string), duration > .zero else {
            reader.error("\(field.path): \(expected), got \"\(scalar.string)\"", at: field.node)
            return nil
        }
        return .duration(duration)
    }

    /// Builds a schedule, reporting Core's refusal at the weight it names.
    private static func schedule(
        in analysis: Field, reader: DocumentReader, _ build: () throws(WeightScheduleError) -> WeightSchedule
    ) -> WeightSchedule? {
        do {
            return try build()
        } catch {
            let key: String
            switch error {
            case .stepWeightOutOfRange: key = "stepWeight"
            case .maxWeightOutOfRange, .maxWeightBelowStepWeight: key = "maxWeight"
            case .noSteps: key = "stepWeights"
            case .stepOutOfRange(let index, _), .notAscending(let index, _, _): key = "stepWeights[\(index)]"
            case .iterationsOutOfRange: key = "iterations"
            case .pauseNotPositive(let index, _): key = "stepWeights[\(index)].pause"
            case .mirrorBeforeNoWeights: key = "mirror"
            }
            // Core's text starts with the field it is about (`stepWeights[2] is 30, ...`): prefix it to a full path. A
            // written maxWeight may be 100 (Flagger's default, read as left out), which Core's range does not say.
            var text = error.description
            if case .maxWeightOutOfRange(let weight) = error {
                text = "maxWeight is \(weight), expected 1 to 100 (100, Flagger's default: steps below 100%, then promotion sends 100%)"
            }
            reader.error("\(analysis.path).\(text)", atPath: analysis.path(of: key), fallback: analysis.node)
            return nil
        }
    }

    /// One `metrics` entry: a built-in by name, taking that built-in's defaults for what it omits,
    /// or a custom metric when it names a MetricTemplate.
    private static func metric(_ field: Field, namespace: String, reader: DocumentReader) -> MetricCheck? {
        let schema = Schema(
            known: ["name", "templateRef", "templateVariables", "provider", "thresholdRange", "interval", "minRequests", "threshold", "query"]
        )
        guard let fields = reader.mapping(field, schema),
            let nameField = reader.required("name", in: fields),
            let name = reader.string(nameField)
        else { return nil }
        if let queryField = fields["query"] {
            // Flagger's deprecated inline query ran on its controller's one Prometheus; Serin's queries name theirs.
            reader.error(
                "metric \(name): \(queryField.path) is Flagger's deprecated inline query: write it in a MetricTemplate (spec.query, "
                    + "with its provider) and name that here with templateRef",
                at: queryField.node)
            return nil
        }
        var range: ThresholdRange?
        if let rangeField = fields["thresholdRange"] {
            // A bound that does not read is said at its line; the metric goes no further, so no other message
            // repeats it as a missing bound.
            guard let read = thresholdRange(rangeField, reader: reader) else { return nil }
            range = read
        }
        if let thresholdField = fields["threshold"], let threshold = reader.number(thresholdField) {
            // Flagger's deprecated threshold, still honoured by its v1beta1: a floor for the success rate, a ceiling
            // for anything else, and thresholdRange wins over it.
            let bound = name == MetricCheck.requestSuccessRate(min: 0).name ? "min" : "max"
            reader.warning(
                "metric \(name): \(thresholdField.path) is Flagger's deprecated field, read as thresholdRange: {\(bound): "
                    + "\(Readable.trimmed(threshold))}\(range == nil ? "" : ", which thresholdRange replaces here")",
                at: thresholdField.node)
            if range == nil { range = bound == "min" ? ThresholdRange(min: threshold) : ThresholdRange(max: threshold) }
        }
        let interval = fields["interval"].flatMap(reader.duration)
        let minRequests = fields["minRequests"].flatMap(reader.int)
        let provider = fields["provider"].flatMap { metricSource($0, for: .metric, reader: reader) }
        let variables = fields["templateVariables"].flatMap(reader.stringMap)
        var check: MetricCheck
        if let templateField = fields["templateRef"] {
            guard let template = templateReference(templateField, namespace: namespace, reader: reader) else { return nil }
            check = MetricCheck(name: name, kind: .custom(template: template.description), thresholdRange: ThresholdRange())
            if let variables { check.templateVariables = variables }
            if let providerField = fields["provider"] {
                reader.warning(
                    "metric \(name): \(providerField.path) is not used: the query runs on MetricTemplate \(template)'s provider",
                    at: providerField.node
                )
            }
        } else if let builtIn = MetricCheck.builtInDefaults.first(where: { $0.name == name }) {
            check = builtIn
            check.provider = provider
            if let variablesField = fields["templateVariables"] {
                reader.warning(
                    "metric \(name): \(variablesField.path) is not used: only a templateRef's query has variables",
                    at: variablesField.node
                )
            }
        } else {
            let builtIns = MetricCheck.builtInDefaults.map(\.name).joined(separator: " or ")
            reader.error(
                "metric \(name): custom metrics need a MetricTemplate (templateRef); the built-in metrics are \(builtIns)",
                at: nameField.node
            )
            return nil
        }
        if let range { check.thresholdRange = range }
        if let interval { check.interval = interval }
        if let minRequests { check.minRequests = minRequests }
        return check
    }

    /// Nil when a bound written does not read as a number (said at its line).
    private static func thresholdRange(_ field: Field, reader: DocumentReader) -> ThresholdRange? {
        guard let fields = reader.mapping(field, Schema(known: ["min", "max"])) else { return nil }
        let min = fields["min"].flatMap(reader.number)
        let max = fields["max"].flatMap(reader.number)
        guard (fields["min"] == nil) == (min == nil), (fields["max"] == nil) == (max == nil) else { return nil }
        return ThresholdRange(min: min, max: max)
    }

    /// Flagger's `templateRef: {name, namespace}`; the namespace defaults to the Canary's.
    private static func templateReference(_ field: Field, namespace: String, reader: DocumentReader) -> ResourceName? {
        guard let fields = reader.mapping(field, Schema(known: ["name", "namespace"])),
            let name = reader.required("name", in: fields).flatMap(reader.string)
        else { return nil }
        return ResourceName(namespace: fields["namespace"].flatMap(reader.string) ?? namespace, name: name)
    }

    /// `http://` or `https://` with a host, as the webhook runner calls it.
    private static func isHTTPAddress(_ text: String) -> Bool {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else { return false }
        return (scheme == "http" || scheme == "https") && components.host?.isEmpty == false
    }

    /// One `webhooks` entry; without a `type` it is a rollout hook, as in Flagger.
    private static func webhook(_ field: Field, reader: DocumentReader) -> WebhookSpec? {
        let schema = Schema(known: ["name", "type", "url", "timeout", "metadata", "muteAlert", "retries", "disableTLS"])
        guard let fields = reader.mapping(field, schema) else { return nil }
        let muteAlert = fields["muteAlert"].flatMap(reader.bool)
        let name = reader.required("name", in: fields).flatMap(reader.string)
        let url = reader.required("url", in: fields).flatMap(reader.string)
        if let url, !url.isEmpty, let urlField = fields["url"], !isHTTPAddress(url) {
            // Said here, at its line: a hook called at such an address says no at every gate, and holds the rollout.
            reader.error("\(urlField.path): expected an address like http://host[:port][/path], got \"\(url)\"", at: urlField.node)
        }
        let type: WebhookType? = if let typeField = fields["type"] {
            reader.choice(typeField, as: WebhookType.self)
        } else {
            .rollout
        }
        let timeout = fields["timeout"].flatMap(reader.duration)
        let metadata = fields["metadata"].flatMap(reader.stringMap)
        let retries = fields["retries"].flatMap(reader.int)
        if let retriesField = fields["retries"], let retries, retries < 0 {
            reader.error(
                "\(retriesField.path) is \(retries), expected how many more times a failed call is made (0 or more; default 0)",
                at: retriesField.node)
            return nil
        }
        let disableTLS = fields["disableTLS"].flatMap(reader.bool)
        if let disableTLS, disableTLS, let url, url.lowercased().hasPrefix("http://"), let field = fields["disableTLS"] {
            reader.warning("\(field.path) does nothing for \(url): an http:// hook has no certificate to verify", at: field.node)
        }
        guard let name, let url, let type, fields["retries"] == nil || retries != nil, fields["disableTLS"] == nil || disableTLS != nil,
            fields["muteAlert"] == nil || muteAlert != nil
        else {
            return nil
        }
        var webhook = WebhookSpec(
            name: name, type: type, url: url, retries: retries ?? 0, disableTLS: disableTLS ?? false, muteAlert: muteAlert ?? false)
        if let timeout { webhook.timeout = timeout }
        if let metadata { webhook.metadata = metadata }
        return webhook
    }
}
