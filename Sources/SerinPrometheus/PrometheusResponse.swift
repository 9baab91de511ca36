import Foundation

/// Reads the JSON body of Prometheus' `/api/v1/query` into a `PrometheusQueryResult`: pure, so every
/// outcome is tested from recorded responses without a server.
public enum PrometheusResponse {
    /// Parses a whole response body (any HTTP status: error bodies carry `errorType` and `error`).
    public static func parse(_ body: [UInt8]) -> PrometheusQueryResult {
        parse(Data(body), text: { String(decoding: body, as: UTF8.self) })
    }

    /// Parses a whole response body given as text.
    public static func parse(_ text: String) -> PrometheusQueryResult {
        parse(Data(text.utf8), text: { text })
    }

    /// The message of an error body (`bad_data: invalid parameter ...`), else an excerpt of the body as text:
    /// for HTTP errors, where proxies in front of Prometheus answer in HTML or plain text.
    public static func errorDescription(_ body: [UInt8]) -> String {
        if let envelope = try? JSONDecoder().decode(Envelope.self, from: Data(body)), envelope.status == "error" {
            return envelope.errorText
        }
        let trimmed = excerpt(String(decoding: body, as: UTF8.self))
        return trimmed.isEmpty ? "empty body" : trimmed
    }

    private static func parse(_ data: Data, text: () -> String) -> PrometheusQueryResult {
        guard let envelope = try? JSONDecoder().decode(Envelope.self, from: data) else {
            return .failed("malformed response, expected Prometheus API JSON: \(excerpt(text()))")
        }
        if envelope.status == "error" { return .failed(envelope.errorText) }
        guard envelope.status == "success" else {
            return .failed("response status \"\(envelope.status)\", expected \"success\" or \"error\"")
        }
        guard let resultType = envelope.data?.resultType else {
            return .failed("response has no data.resultType: \(excerpt(text()))")
        }
        // The result's shape depends on its type, so it is decoded a second time once the type is known.
        switch resultType {
        case "vector":
            guard let vector = try? JSONDecoder().decode(Result<[Series]>.self, from: data) else {
                return .failed("vector result is not a list of samples: \(excerpt(text()))")
            }
            return self.vector(vector.data.result)
        case "scalar":
            guard let scalar = try? JSONDecoder().decode(Result<Sample>.self, from: data) else {
                return .failed("sample is not [time, \"value\"]: \(excerpt(text()))")
            }
            return scalar.data.result.reading
        case "matrix":
            return .failed("query returned a range vector (matrix), expected an instant vector or scalar: aggregate the range, e.g. rate(...[1m])")
        default:
            return .failed("query returned a \(resultType), expected an instant vector or scalar")
        }
    }

    private static func vector(_ series: [Series]) -> PrometheusQueryResult {
        switch series.count {
        case 0: return .noData
        case 1: return series[0].value.reading
        default:
            var read: [PrometheusSeries] = []
            for one in series {
                switch one.value.reading {
                case .value(let value): read.append(PrometheusSeries(labels: one.metric, value: value))
                case .notANumber: read.append(PrometheusSeries(labels: one.metric, value: .nan))
                case let failure: return failure
                }
            }
            return .multipleSeries(read)
        }
    }

    /// At most 200 characters of `text` on one line: a log line stays one line, whatever an HTML error page holds.
    private static func excerpt(_ text: String) -> String {
        let trimmed = oneLine(text)
        return trimmed.count > 200 ? String(trimmed.prefix(200)) + "..." : trimmed
    }

    /// `text` with each run of blanks and line breaks as one space: a query or a body said on one log line.
    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    /// What every answer has: its status, an error's type and message, and the result's type.
    private struct Envelope: Decodable {
        struct Data: Decodable {
            var resultType: String?
        }

        var status: String
        var errorType: String?
        var error: String?
        var data: Data?

        var errorText: String { "\(errorType ?? "error"): \(error ?? "no error message")" }
    }

    /// `data.result` once its type is known.
    private struct Result<Value: Decodable>: Decodable {
        struct Data: Decodable {
            var result: Value
        }

        var data: Data
    }

    /// One element of an instant vector: its labels and its sample.
    private struct Series: Decodable {
        var metric: [String: String]
        var value: Sample

        private enum CodingKeys: String, CodingKey { case metric, value }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            metric = try container.decodeIfPresent([String: String].self, forKey: .metric) ?? [:]
            value = try container.decode(Sample.self, forKey: .value)
        }
    }

    /// One `[<unix time>, "<value>"]` pair; Prometheus writes values as strings so NaN and ±Inf survive JSON.
    private struct Sample: Decodable {
        var text: String

        init(from decoder: any Decoder) throws {
            var pair = try decoder.unkeyedContainer()
            _ = try pair.decode(Double.self)
            text = try pair.decode(String.self)
            guard pair.isAtEnd else {
                throw DecodingError.dataCorruptedError(in: pair, debugDescription: "a sample is [time, \"value\"], got more")
            }
        }

        var reading: PrometheusQueryResult {
            switch text {
            case "NaN": return .notANumber
            case "+Inf": return .value(.infinity)
            case "-Inf": return .value(-.infinity)
            default:
                guard let value = Double(text), value.isFinite else {
                    return .failed("sample value \"\(text)\" is not a number")
                }
                return .value(value)
            }
        }
    }
}
