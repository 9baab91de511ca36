/// Bodies recorded from a real Prometheus 2.42 (`/usr/bin/prometheus`, no scrape targets) answering
/// `GET /api/v1/query?query=...`; the query and HTTP status are noted with each.
enum RecordedResponses {
    /// `vector(1)`, 200.
    static let vectorOne = #"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1795714724.509,"1"]}]}}"#
    /// `vector(0.25)`, 200.
    static let vectorQuarter = #"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1795714724.632,"0.25"]}]}}"#
    /// `vector(0)/0`, 200.
    static let vectorNaN = #"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1795714724.518,"NaN"]}]}}"#
    /// `vector(1)/0`, 200.
    static let vectorInfinity = #"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1795714724.623,"+Inf"]}]}}"#
    /// `up` with nothing scraped, 200.
    static let emptyVector = #"{"status":"success","data":{"resultType":"vector","result":[]}}"#
    /// `sum(up)` with nothing scraped, 200: an aggregation over nothing is empty too, not 0.
    static let emptySum = #"{"status":"success","data":{"resultType":"vector","result":[]}}"#
    /// `vector(1) or label_replace(vector(2),"pod","b","","")`, 200.
    static let twoSeries = #"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1795714724.602,"1"]},{"metric":{"pod":"b"},"value":[1795714724.602,"2"]}]}}"#
    /// `sum by (le) (label_replace(vector(10.2),"le","25","","") or label_replace(vector(1150.7),"le","50","","")
    /// or label_replace(vector(1204.4),"le","+Inf","",""))`, 200: the shape of a histogram's buckets by `le`.
    static let durationBuckets = #"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"le":"25"},"value":[1796164461.429,"10.2"]},{"metric":{"le":"50"},"value":[1796164461.429,"1150.7"]},{"metric":{"le":"+Inf"},"value":[1796164461.429,"1204.4"]}]}}"#
    /// `1/0`, 200.
    static let scalarPlusInfinity = #"{"status":"success","data":{"resultType":"scalar","result":[1795714724.539,"+Inf"]}}"#
    /// `-1/0`, 200.
    static let scalarMinusInfinity = #"{"status":"success","data":{"resultType":"scalar","result":[1795714724.547,"-Inf"]}}"#
    /// `0/0`, 200.
    static let scalarNaN = #"{"status":"success","data":{"resultType":"scalar","result":[1795714724.562,"NaN"]}}"#
    /// `foo{`, 400.
    static let parseError = #"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unexpected end of input inside braces"}"#
    /// `label_replace(vector(1),"a","x","","(")`, 422.
    static let executionError = #"{"status":"error","errorType":"execution","error":"invalid regular expression in label_replace(): ("}"#
    /// `vector(1)[1m:30s]`, 200.
    static let matrix = #"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1795714680,"1"],[1795714710,"1"]]}]}}"#
    /// `"hello"`, 200.
    static let string = #"{"status":"success","data":{"resultType":"string","result":[1795714724.593,"hello"]}}"#
}
