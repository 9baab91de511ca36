/// Which gRPC statuses the success rate counts as failures, in one place for the gateway's own counters and the
/// Prometheus queries that read Istio's `grpc_response_status` label: those gRPC's HTTP mapping answers with a 5xx
/// (UNKNOWN 2, DEADLINE_EXCEEDED 4, UNIMPLEMENTED 12, INTERNAL 13, UNAVAILABLE 14, DATA_LOSS 15) — server faults,
/// as an HTTP 5xx is. A client's own mistakes (INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED…) are answers, as a
/// 4xx is, and CANCELLED is the client's doing.
public enum GRPCStatusCodes {
    public static let serverFaults: Set<String> = ["2", "4", "12", "13", "14", "15"]

    /// `serverFaults` as a PromQL regular expression (`2|4|12|13|14|15`), which Prometheus anchors at both ends.
    public static let serverFaultPattern = serverFaults.sorted { Int($0)! < Int($1)! }.joined(separator: "|")
}
