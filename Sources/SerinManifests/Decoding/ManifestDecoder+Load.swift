import SerinCore

extension ManifestDecoder {
    /// Headers the load's requests set themselves: the destination's Host, and the fields that frame a message or
    /// belong to one connection, which a written value would break (`transfer-encoding: chunked` on a GET without a body).
    static let setByTheLoad: Set<String> = [
        "host", ":authority", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer", "upgrade",
        "proxy-connection",
    ]

    /// `analysis.load: {rps, path, headers, duration}`: synthetic requests to canary and stable while the canary is
    /// analysed. The rate is capped (`SyntheticLoad.maximumRPS`), the path is origin-form and `Host` is not
    /// settable, so the load reaches the Canary's two destinations and nothing else.
    static func syntheticLoad(_ field: Field, interval: Duration, reader: DocumentReader) -> SyntheticLoad? {
        guard let fields = reader.mapping(field, Schema(known: ["rps", "path", "headers", "duration"])),
            let rpsField = reader.required("rps", in: fields), let rps = reader.number(rpsField)
        else { return nil }
        var valid = true
        if !(rps > 0 && rps <= SyntheticLoad.maximumRPS) {
            reader.error(
                "\(rpsField.path) is \(Readable.trimmed(rps)), expected requests a second above 0 and at most "
                    + "\(Readable.trimmed(SyntheticLoad.maximumRPS)) (Serin's cap on synthetic traffic, per destination)",
                at: rpsField.node)
            valid = false
        }
        var load = SyntheticLoad(rps: rps)
        if let pathField = fields["path"], let path = reader.string(pathField) {
            if path.first != "/" || path.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) {
                reader.error(
                    "\(pathField.path) is \"\(path)\", expected a path on the Canary's own service (starting with /, no spaces)",
                    at: pathField.node)
                valid = false
            }
            load.path = path
        } else if fields["path"] != nil {
            valid = false
        }
        if let headersField = fields["headers"] {
            guard let headers = reader.stringMap(headersField) else { return nil }
            for name in headers.keys.sorted() where !isToken(name) || Self.setByTheLoad.contains(name.lowercased()) {
                reader.error(
                    "\(headersField.path).\(name): expected a header name other than Host and the ones that frame or "
                        + "carry the request (content-length, transfer-encoding, connection, keep-alive, te, trailer, upgrade): "
                        + "the load's GETs set them",
                    at: headersField.node)
                valid = false
            }
            load.headers = headers
        }
        if let durationField = fields["duration"] {
            guard let duration = reader.duration(durationField) else { return nil }
            if duration <= .zero || duration > interval {
                reader.error(
                    "\(durationField.path) is \(Readable.duration(duration)), expected above 0s and at most the analysis "
                        + "interval (\(Readable.duration(interval))): the load runs that long in each interval",
                    at: durationField.node)
                valid = false
            }
            load.duration = duration
        }
        return valid ? load : nil
    }
}
