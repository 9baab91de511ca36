import Foundation
import SerinCore
import Yams

/// An HTTP route's policies, with Istio's field names, defaults and validation (Istio's rules are cited where
/// Serin follows them; each problem is reported at its field).
extension ManifestDecoder {
    static func decodePolicies(of fields: Fields, into route: inout HTTPRoute, reader: DocumentReader) {
        route.timeout = fields["timeout"].flatMap(reader.positiveDuration)
        route.retries = fields["retries"].flatMap { retries($0, reader: reader) }
        route.fault = fields["fault"].flatMap { fault($0, reader: reader) }
        route.headers = fields["headers"].flatMap { headers($0, reader: reader) }
        route.rewrite = fields["rewrite"].flatMap { rewrite($0, reader: reader) }
        route.redirect = fields["redirect"].flatMap { redirect($0, reader: reader) }
        route.directResponse = fields["directResponse"].flatMap { directResponse($0, reader: reader) }
        route.mirror = mirror(in: fields, reader: reader)
        if let mirrorsField = fields["mirrors"] {
            if let single = fields["mirror"] {
                reader.error("\(single.path): a route cannot have both mirror and mirrors (Istio refuses it): list this one in mirrors", at: single.node)
            }
            route.mirrors = reader.list(mirrorsField) { mirrorPolicy($0, reader: reader) } ?? []
        }
        route.corsPolicy = fields["corsPolicy"].flatMap { corsPolicy($0, reader: reader) }
    }

    // MARK: CORS

    /// The methods Istio lets `corsPolicy.allowMethods` name.
    static let corsMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE", "*"]

    /// `corsPolicy`, checked as Istio checks it: origins as string matches (`allowOrigins`, or the deprecated
    /// `allowOrigin` as exact ones), methods from HTTP's own, header names (or `*`), `maxAge` in whole seconds.
    static func corsPolicy(_ field: Field, reader: DocumentReader) -> CorsPolicy? {
        let schema = Schema(known: [
            "allowOrigins", "allowOrigin", "allowMethods", "allowHeaders", "exposeHeaders", "maxAge", "allowCredentials",
            "unmatchedPreflights",
        ])
        guard let fields = reader.mapping(field, schema) else { return nil }
        var policy = CorsPolicy()
        if let origins = fields["allowOrigins"] {
            policy.allowOrigins = reader.list(origins) { entry in
                let match = stringMatch(entry, place: .attribute, reader: reader)
                switch match {
                case .exact("")?, .prefix("")?:
                    reader.error("\(entry.path): expected an origin to match, got \"\" (Istio refuses it)", at: entry.node)
                    return nil
                default:
                    return match
                }
            } ?? []
            if let deprecated = fields["allowOrigin"] {
                reader.warning("\(deprecated.path) is deprecated and ignored beside allowOrigins, as in Istio", at: deprecated.node)
            }
        } else if let deprecated = fields["allowOrigin"] {
            reader.warning("\(deprecated.path) is deprecated: use allowOrigins: [{exact: ORIGIN}]", at: deprecated.node)
            policy.allowOrigins = (reader.stringList(deprecated) ?? []).map(StringMatch.exact)
        }
        if let methods = fields["allowMethods"] {
            policy.allowMethods = reader.list(methods) { entry in
                guard let method = reader.string(entry) else { return nil }
                guard corsMethods.contains(method) else {
                    reader.error(
                        "\(entry.path) is \"\(method)\", expected one of \(corsMethods.sorted().joined(separator: ", ")) (Istio's list, in capitals)",
                        at: entry.node)
                    return nil
                }
                return method
            } ?? []
        }
        for key in ["allowHeaders", "exposeHeaders"] {
            guard let names = fields[key] else { continue }
            let read = reader.list(names) { entry in
                reader.string(entry).flatMap { name in name == "*" ? name : headerName(name, at: entry, reader: reader).map { _ in name } }
            } ?? []
            if key == "allowHeaders" { policy.allowHeaders = read } else { policy.exposeHeaders = read }
        }
        if let maxAgeField = fields["maxAge"], let maxAge = reader.positiveDuration(maxAgeField) {
            if maxAge.components.attoseconds != 0 {
                reader.error(
                    "\(maxAgeField.path): expected whole seconds (a browser keeps a preflight's answer for seconds), got \"\(maxAgeField.node.string ?? "")\"",
                    at: maxAgeField.node)
            }
            policy.maxAge = maxAge
        }
        policy.allowCredentials = fields["allowCredentials"].flatMap(reader.bool)
        if let unmatched = fields["unmatchedPreflights"], let value = reader.string(unmatched) {
            switch value {
            case "FORWARD", "UNSPECIFIED": policy.unmatchedPreflights = .forward
            case "IGNORE": policy.unmatchedPreflights = .ignore
            default:
                reader.error("\(unmatched.path) is \"\(value)\", expected FORWARD (Istio's default) or IGNORE", at: unmatched.node)
            }
        }
        return policy
    }

    // Each part reports its own problems; the route holding a malformed part is dropped as a whole
    // (`httpRoute`), so the parts return what they could read.

    // MARK: Retries

    /// `retries`. An omitted `attempts` is 0, which turns retries off, as in Istio; Istio then rejects a
    /// `retryOn` or `perTryTimeout`, which could never apply.
    private static func retries(_ field: Field, reader: DocumentReader) -> HTTPRetry? {
        let schema = Schema(
            known: ["attempts", "perTryTimeout", "retryOn", "backoff", "retryIgnorePreviousHosts", "retryRemoteLocalities"]
        )
        guard let fields = reader.mapping(field, schema) else { return nil }
        let attemptsField = fields["attempts"]
        let attempts: Int? = if let attemptsField { reader.count(attemptsField) } else { 0 }
        let perTryTimeout = fields["perTryTimeout"].flatMap(reader.positiveDuration)
        let retryOn = fields["retryOn"].flatMap { retryConditions($0, reader: reader) }
        guard let attempts else { return nil }
        if attempts == 0 {
            let configured = ["retryOn", "perTryTimeout"].filter { fields[$0] != nil }
            if !configured.isEmpty {
                let zero = attemptsField == nil ? "attempts is not set, which" : "attempts 0"
                reader.error(
                    "\(field.path): \(configured.joined(separator: " and ")) \(configured.count == 1 ? "needs" : "need") "
                        + "attempts above 0: \(zero) disables retries",
                    at: attemptsField?.node ?? field.node
                )
            }
        }
        var retry = HTTPRetry(
            attempts: attempts, perTryTimeout: perTryTimeout, backoff: fields["backoff"].flatMap(reader.positiveDuration),
            ignorePreviousHosts: fields["retryIgnorePreviousHosts"].flatMap(reader.bool),
            retryRemoteLocalities: fields["retryRemoteLocalities"].flatMap(reader.bool) ?? false
        )
        if let retryOn {
            retry.retryOn = retryOn.conditions
            retry.retriableStatusCodes = retryOn.statusCodes
        }
        return retry
    }

    /// `retryOn`: comma-separated Envoy retry policies and HTTP statuses. Policies Serin's gateway cannot tell
    /// apart are warned about and ignored; `retriable-status-codes` only says the listed statuses count.
    private static func retryConditions(
        _ field: Field, reader: DocumentReader
    ) -> (conditions: [RetryCondition], statusCodes: [Int])? {
        guard let text = reader.string(field) else { return nil }
        var conditions: [RetryCondition] = []
        var statusCodes: [Int] = []
        var ignored: [String] = []
        var valid = true
        for part in text.split(separator: ",") {
            let policy = part.trimmingCharacters(in: .whitespaces)
            if policy.isEmpty || policy == "retriable-status-codes" { continue }
            if let status = Int(policy) {
                guard (100...599).contains(status) else {
                    reader.error("\(field.path): expected HTTP statuses from 100 to 599, got \(status)", at: field.node)
                    valid = false
                    continue
                }
                if !statusCodes.contains(status) { statusCodes.append(status) }
            } else if let condition = RetryCondition(rawValue: policy) {
                if !conditions.contains(condition) { conditions.append(condition) }
            } else {
                ignored.append(policy)
            }
        }
        if !ignored.isEmpty {
            let supported = RetryCondition.allCases.map(\.rawValue).joined(separator: ", ")
            reader.warning(
                "\(field.path): \(ignored.joined(separator: ", ")) \(ignored.count == 1 ? "is" : "are") not supported "
                    + "by Serin's gateway, ignored (it retries on \(supported) and HTTP statuses)",
                at: field.node
            )
        }
        return valid ? (conditions, statusCodes) : nil
    }

    // MARK: Faults

    /// `fault`: a delay, an abort or both; Istio rejects a fault with neither.
    private static func fault(_ field: Field, reader: DocumentReader) -> HTTPFaultInjection? {
        guard let fields = reader.mapping(field, Schema(known: ["delay", "abort"])) else { return nil }
        guard fields["delay"] != nil || fields["abort"] != nil else {
            reader.error("\(field.path): expected delay, abort or both", at: field.node)
            return nil
        }
        let delay = fields["delay"].flatMap { faultDelay($0, reader: reader) }
        let abort = fields["abort"].flatMap { faultAbort($0, reader: reader) }
        return HTTPFaultInjection(delay: delay, abort: abort)
    }

    private static func faultDelay(_ field: Field, reader: DocumentReader) -> HTTPFaultInjection.Delay? {
        let schema = Schema(known: ["fixedDelay", "percentage", "percent"], notSupported: ["exponentialDelay"])
        guard let fields = reader.mapping(field, schema) else { return nil }
        let fixedDelay = reader.required("fixedDelay", in: fields).flatMap(reader.positiveDuration)
        let percentage = faultPercentage(in: fields, outcome: "delayed", reader: reader)
        guard let fixedDelay, let percentage else { return nil }
        return HTTPFaultInjection.Delay(fixedDelay: fixedDelay, percentage: percentage)
    }

    /// An abort answers `httpStatus`, or `grpcStatus` by its name (one of them, as Istio's oneof); the gateway has no
    /// HTTP/2 error to answer with, so an abort naming only that aborts nothing (like Istio's abort without an error
    /// type, a warning).
    private static func faultAbort(_ field: Field, reader: DocumentReader) -> HTTPFaultInjection.Abort? {
        let schema = Schema(known: ["httpStatus", "grpcStatus", "percentage"], notSupported: ["http2Error"])
        guard let fields = reader.mapping(field, schema) else { return nil }
        if let grpcField = fields["grpcStatus"] {
            if fields["httpStatus"] != nil {
                reader.error("\(field.path): set one of httpStatus or grpcStatus, not both", at: grpcField.node)
                return nil
            }
            guard let name = reader.string(grpcField) else { return nil }
            guard let code = GRPCStatusCodes.named[name] else {
                let names = GRPCStatusCodes.named.sorted { $0.value < $1.value }.map(\.key).joined(separator: ", ")
                reader.error("\(grpcField.path) is \"\(name)\", expected a gRPC status by name: \(names)", at: grpcField.node)
                return nil
            }
            return faultPercentage(in: fields, outcome: "aborted", reader: reader).map { HTTPFaultInjection.Abort(grpcStatus: code, percentage: $0) }
        }
        guard let statusField = fields["httpStatus"] else {
            // Still validated, as Istio does, though nothing is aborted.
            _ = fields["percentage"].flatMap(reader.percentage)
            reader.warning("\(field.path(of: "httpStatus")) is not set, so no request is aborted", at: field.node)
            return nil
        }
        let status = reader.httpStatus(statusField)
        let percentage = faultPercentage(in: fields, outcome: "aborted", reader: reader)
        guard let status, let percentage else { return nil }
        return HTTPFaultInjection.Abort(httpStatus: status, percentage: percentage)
    }

    /// `percentage: {value}`, or a delay's deprecated whole `percent`. Istio injects into no request when
    /// neither is written, which is worth a warning: the fault looks configured but never happens.
    private static func faultPercentage(in fields: Fields, outcome: String, reader: DocumentReader) -> Percent? {
        switch (fields["percentage"], fields["percent"]) {
        case (.some(let percentage), let percent):
            if let percent {
                reader.warning("\(percent.path) is ignored: percentage is set", at: percent.node)
            }
            return reader.percentage(percentage)
        case (nil, .some(let percent)):
            reader.warning("\(percent.path) is deprecated: use percentage: {value: N}", at: percent.node)
            return reader.percent(percent).map { Percent(Double($0)) }
        case (nil, nil):
            reader.warning(
                "\(fields.owner.path(of: "percentage")) is not set, so no request is \(outcome) (Istio's default)",
                at: fields.owner.node
            )
            return Percent.none
        }
    }

    // MARK: Headers

    /// `headers: {request, response}`, each with `set`, `add` and `remove`: a route's, or one destination's.
    static func headers(_ field: Field, reader: DocumentReader) -> RouteHeaders? {
        guard let fields = reader.mapping(field, Schema(known: ["request", "response"])) else { return nil }
        return RouteHeaders(
            request: fields["request"].flatMap { headerOperations($0, ofRequest: true, reader: reader) } ?? HeaderOperations(),
            response: fields["response"].flatMap { headerOperations($0, ofRequest: false, reader: reader) } ?? HeaderOperations()
        )
    }

    /// One side's `set`, `add` and `remove`. A request's `set` or `add` of `host` or `:authority` is its new Host
    /// (`HeaderOperations.authority`), as Istio reads them; removing the Host, or touching it in a response, is an
    /// error, as in Istio's validation.
    private static func headerOperations(_ field: Field, ofRequest: Bool, reader: DocumentReader) -> HeaderOperations? {
        guard let fields = reader.mapping(field, Schema(known: ["set", "add", "remove"])) else { return nil }
        let remove = fields["remove"].flatMap { removeField in
            reader.list(removeField) { entry in
                reader.string(entry).flatMap { headerName($0, at: entry, reader: reader) }.flatMap { name in
                    guard name == "host" else { return name }
                    reader.error(
                        "\(entry.path): a request cannot go without its Host header, so host cannot be removed (Istio refuses it too)",
                        at: entry.node)
                    return nil
                }
            }
        }
        let set = fields["set"].flatMap { headerValues($0, authority: ofRequest, reader: reader) } ?? HeaderValues()
        let add = fields["add"].flatMap { headerValues($0, authority: ofRequest, reader: reader) } ?? HeaderValues()
        // A set Host wins over an added one, as in Istio.
        return HeaderOperations(set: set.values, add: add.values, remove: remove ?? [], authority: set.authority ?? add.authority)
    }

    /// A `set` or `add` mapping's values by lower-cased header name, and the Host it gives a request.
    private struct HeaderValues {
        var values: [String: String] = [:]
        var authority: String?
    }

    /// A `set` or `add` mapping: header name → value, names lower-cased. With `authority`, `host` and `:authority`
    /// (either, not both) are the request's new Host; without, `host` is an error (a response has none).
    private static func headerValues(_ field: Field, authority: Bool, reader: DocumentReader) -> HeaderValues? {
        guard let entries = reader.entries(field) else { return nil }
        var result = HeaderValues()
        var complete = true
        var hostName: String?
        for (name, child) in entries {
            guard let value = reader.string(child) else {
                complete = false
                continue
            }
            let lowered = name.lowercased()
            if lowered == "host" || lowered == ":authority" {
                guard authority else {
                    reader.error("\(child.path): a response has no Host header to change (Istio refuses it too)", at: child.node)
                    complete = false
                    continue
                }
                if let hostName {
                    reader.error(
                        "\(child.path): the Host is already given as \(hostName) here; give it once, as host or :authority",
                        at: child.node)
                    complete = false
                    continue
                }
                guard !value.isEmpty, !value.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else {
                    reader.error("\(child.path) is \"\(value)\", expected a host (and port), as host:port", at: child.node)
                    complete = false
                    continue
                }
                hostName = name
                result.authority = value
                continue
            }
            guard let lowered = headerName(name, at: child, reader: reader) else {
                complete = false
                continue
            }
            result.values[lowered] = value
        }
        return complete ? result : nil
    }

    /// A header name as Istio accepts it in header operations (letters, digits, `-` and `_`), lower-cased.
    static func headerName(_ name: String, at field: Field, reader: DocumentReader) -> String? {
        let valid = !name.isEmpty && name.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
                || ("0"..."9").contains(scalar) || scalar == "-" || scalar == "_")
        }
        guard valid else {
            reader.error(
                "\(field.path): expected a header name of letters, digits, - and _, got \"\(name)\"", at: field.node
            )
            return nil
        }
        return name.lowercased()
    }

    // MARK: Rewrite, redirect, direct response

    /// `rewrite`: Istio requires at least one part. A rewrite with only parts Serin ignores rewrites nothing.
    private static func rewrite(_ field: Field, reader: DocumentReader) -> HTTPRewrite? {
        let schema = Schema(known: ["uri", "authority", "uriRegexRewrite"])
        guard let fields = reader.mapping(field, schema) else { return nil }
        guard field.node.mapping?.isEmpty == false else {
            reader.error("\(field.path): expected uri or uriRegexRewrite, authority, or both", at: field.node)
            return nil
        }
        let uri = fields["uri"].flatMap(reader.string)
        let authority = fields["authority"].flatMap(reader.string)
        var uriRegex: RegexRewrite?
        if let regexField = fields["uriRegexRewrite"] {
            if fields["uri"] != nil {
                reader.error("\(regexField.path): set one of uri or uriRegexRewrite, not both (Istio refuses it)", at: regexField.node)
                return nil
            }
            uriRegex = regexRewrite(regexField, reader: reader)
        }
        guard uri != nil || authority != nil || uriRegex != nil else { return nil }
        return HTTPRewrite(uri: uri, authority: authority, uriRegex: uriRegex)
    }

    /// `uriRegexRewrite: {match, rewrite}`: both required, the pattern a valid regular expression.
    private static func regexRewrite(_ field: Field, reader: DocumentReader) -> RegexRewrite? {
        guard let fields = reader.mapping(field, Schema(known: ["match", "rewrite"])),
            let matchField = reader.required("match", in: fields), let rewriteField = reader.required("rewrite", in: fields),
            let source = reader.string(matchField), let rewrite = reader.string(rewriteField)
        else { return nil }
        guard !source.isEmpty, !rewrite.isEmpty else {
            let empty = source.isEmpty ? matchField : rewriteField
            reader.error("\(empty.path): expected a non-empty value (Istio requires both match and rewrite)", at: empty.node)
            return nil
        }
        do {
            return RegexRewrite(match: try RegexPattern(source), rewrite: rewrite)
        } catch {
            reader.error("\(matchField.path): invalid regex \"\(source)\": \(error)", at: matchField.node)
            return nil
        }
    }

    /// `redirect`: at least one part changes, and the code is one Envoy can answer with (Istio accepts any 3xx).
    private static func redirect(_ field: Field, reader: DocumentReader) -> HTTPRedirect? {
        let parts = ["uri", "authority", "scheme", "port", "derivePort"]
        guard let fields = reader.mapping(field, Schema(known: Set(parts + ["redirectCode"]))) else { return nil }
        var redirect = HTTPRedirect()
        redirect.uri = fields["uri"].flatMap(reader.string)
        redirect.authority = fields["authority"].flatMap(reader.string)
        redirect.scheme = fields["scheme"].flatMap { reader.choice($0, as: HTTPRedirect.Scheme.self) }
        redirect.port = fields["port"].flatMap(reader.port)
        redirect.derivePort = fields["derivePort"].flatMap { reader.choice($0, as: HTTPRedirect.DerivePort.self) }
        if let codeField = fields["redirectCode"], let code = reader.int(codeField) {
            if HTTPRedirect.redirectCodes.contains(code) {
                redirect.redirectCode = code
            } else {
                let codes = HTTPRedirect.redirectCodes.map(String.init).joined(separator: ", ")
                reader.error("\(codeField.path): expected one of \(codes), got \(code)", at: codeField.node)
            }
        }
        if fields["port"] != nil, let derivePort = fields["derivePort"] {
            reader.error("\(derivePort.path) cannot be combined with port: set one of them", at: derivePort.node)
        }
        if !parts.contains(where: { fields[$0] != nil }) {
            reader.error(
                "\(field.path): expected at least one of \(parts.dropLast().joined(separator: ", ")) or derivePort",
                at: field.node
            )
        }
        return redirect
    }

    /// The body sizes Istio warns about and rejects: it keeps every body in every proxy's configuration.
    static let directResponseBodyWarning = 100 * 1024
    static let directResponseBodyLimit = 1024 * 1024

    /// `directResponse: {status, body: {string} or {bytes}}`.
    private static func directResponse(_ field: Field, reader: DocumentReader) -> HTTPDirectResponse? {
        guard let fields = reader.mapping(field, Schema(known: ["status", "body"])) else { return nil }
        let status = reader.required("status", in: fields).flatMap(reader.httpStatus)
        let body = fields["body"].flatMap { responseBody($0, reader: reader) }
        guard let status else { return nil }
        return HTTPDirectResponse(status: status, body: body)
    }

    private static func responseBody(_ field: Field, reader: DocumentReader) -> HTTPDirectResponse.Body? {
        guard let fields = reader.mapping(field, Schema(known: ["string", "bytes"])) else { return nil }
        let set = ["string", "bytes"].compactMap { key in fields[key].map { (key, $0) } }
        guard let (key, value) = set.first else {
            reader.error("\(field.path): expected string or bytes", at: field.node)
            return nil
        }
        guard set.count == 1 else {
            reader.error("\(field.path): set only one of string or bytes, got string and bytes", at: field.node)
            return nil
        }
        guard let text = reader.string(value) else { return nil }
        let body: HTTPDirectResponse.Body
        if key == "string" {
            body = .string(text)
        } else {
            guard let data = Data(base64Encoded: text) else {
                reader.error("\(value.path): expected base64, got \"\(text.prefix(20))\"", at: value.node)
                return nil
            }
            body = .bytes(Array(data))
        }
        let size = body.contents.count
        if size > directResponseBodyLimit {
            reader.error("\(field.path): expected a body of at most 1MB, got \(size) bytes", at: field.node)
            return nil
        }
        if size > directResponseBodyWarning {
            reader.warning(
                "\(field.path): a body of \(size) bytes (over 100KB) is held in every copy of the route table",
                at: field.node
            )
        }
        return body
    }

    // MARK: Mirror

    /// `mirror` with `mirrorPercentage` (every request when omitted), or the deprecated whole `mirrorPercent`.
    /// One entry of `mirrors`: a `destination` and its own `percentage`, every request when none is written.
    private static func mirrorPolicy(_ field: Field, reader: DocumentReader) -> HTTPMirrorPolicy? {
        guard let fields = reader.mapping(field, Schema(known: ["destination", "percentage"])),
            let destinationField = reader.required("destination", in: fields), let destination = destination(destinationField, reader: reader)
        else { return nil }
        guard let percentageField = fields["percentage"] else { return HTTPMirrorPolicy(destination: destination) }
        return reader.percentage(percentageField).map { HTTPMirrorPolicy(destination: destination, percentage: $0) }
    }

    private static func mirror(in fields: Fields, reader: DocumentReader) -> HTTPMirrorPolicy? {
        var percentage: Percent? = .all
        switch (fields["mirrorPercentage"], fields["mirrorPercent"]) {
        case (.some(let written), let deprecated):
            if let deprecated {
                reader.warning("\(deprecated.path) is ignored: mirrorPercentage is set", at: deprecated.node)
            }
            percentage = reader.percentage(written)
        case (nil, .some(let deprecated)):
            reader.warning("\(deprecated.path) is deprecated: use mirrorPercentage: {value: N}", at: deprecated.node)
            percentage = reader.percent(deprecated).map { Percent(Double($0)) }
        case (nil, nil):
            break
        }
        guard let mirrorField = fields["mirror"] else {
            if let share = fields["mirrorPercentage"] ?? fields["mirrorPercent"] {
                reader.warning("\(share.path) has no effect without mirror", at: share.node)
            }
            return nil
        }
        guard let destination = destination(mirrorField, reader: reader), let percentage else { return nil }
        return HTTPMirrorPolicy(destination: destination, percentage: percentage)
    }
}
