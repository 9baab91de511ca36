extension KubernetesAPI {
    /// Read, change, replace — with optimistic concurrency: `change` edits the object's fields (starting from
    /// `known` when the caller holds a recent copy, else from a fresh read), and the result replaces the object
    /// at `path` (its status subresource, with `status`). A 409 — someone wrote it since — reads it again and
    /// changes it again, up to `attempts` times; the last conflict is thrown. `change` returning false writes
    /// nothing. Returns the object as stored. `change` runs on the caller's actor, so it may read its state.
    func update(
        _ path: ResourcePath, status: Bool = false, from known: JSONValue? = nil, attempts: Int = 5,
        isolation: isolated (any Actor)? = #isolation, _ change: (inout [String: JSONValue]) async throws -> Bool
    ) async throws -> JSONValue {
        var object: JSONValue
        if let known { object = known } else { object = try await get(path) }
        var attempt = 1
        while true {
            guard case .object(var fields) = object else {
                throw KubernetesAPIError(code: 0, reason: "NotAnObject", message: "\(path) is not a JSON object")
            }
            guard try await change(&fields) else { return object }
            do {
                return try await replace(status ? path.status : path, .object(fields))
            } catch let error as KubernetesAPIError where error.isConflict && attempt < attempts {
                attempt += 1
                object = try await get(path)
            }
        }
    }
}

extension JSONValue {
    /// An object's `metadata` with the annotation `key` set to `value`.
    static func annotating(_ metadata: JSONValue?, _ key: String, _ value: String) -> JSONValue {
        var fields = metadata?.objectValue ?? [:]
        var annotations = fields["annotations"]?.objectValue ?? [:]
        annotations[key] = .string(value)
        fields["annotations"] = .object(annotations)
        return .object(fields)
    }
}
