import Foundation
import NIOHTTP1
import SerinKubernetes

/// The writes kubectl makes besides JSON Patch: merge patches (`kubectl annotate`, `label`, `patch --type=merge`),
/// strategic merge patches on built-in resources (`kubectl set image`, `patch` by default), and server-side apply
/// (`kubectl apply --server-side`). Every write records who changed which fields in `metadata.managedFields`,
/// and an apply that would change a field another manager set is a 409 Conflict naming both, unless forced.
///
/// Simplified from the real field manager: lists are atomic (a VirtualService's `http` is one field, where
/// Kubernetes tracks a Deployment's containers by name), and a field changed by any write moves to the writer.
extension KubernetesAPIServer {
    /// Fields the API server sets itself, never owned by a manager.
    static let systemMetadata: Set<String> = [
        "name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink", "deletionTimestamp",
    ]

    // MARK: Patches

    /// The merge keys of the built-in lists a strategic merge patch merges item by item; other lists are replaced.
    static let strategicMergeKeys: [String: [String]] = [
        "containers": ["name"], "initContainers": ["name"], "env": ["name"], "volumes": ["name"], "volumeMounts": ["mountPath"],
        "imagePullSecrets": ["name"], "ports": ["containerPort", "port"],
    ]

    /// RFC 7386: objects merge, `null` removes, anything else replaces. `strategic`: a strategic merge patch, whose
    /// lists of containers, env, volumes and ports merge item by item, by key.
    static func mergePatch(_ target: JSONValue?, _ patch: JSONValue, strategic: Bool = false) -> JSONValue {
        guard case .object(let changes) = patch else { return patch }
        var fields = target?.objectValue ?? [:]
        for (key, value) in changes {
            if value == .null {
                fields[key] = nil
            } else if strategic, case .array(let items) = value, case .array(let current)? = fields[key],
                let mergeKey = strategicMergeKeys[key]?.first(where: { name in items.allSatisfy { $0[name] != nil } })
            {
                var merged = current
                for item in items {
                    if let index = merged.firstIndex(where: { $0[mergeKey] == item[mergeKey] }) {
                        merged[index] = mergePatch(merged[index], item, strategic: true)
                    } else {
                        merged.append(item)
                    }
                }
                fields[key] = .array(merged)
            } else {
                fields[key] = mergePatch(fields[key], value, strategic: strategic)
            }
        }
        return .object(fields)
    }

    // MARK: Managed fields

    /// The fields `object` sets, each a path to a scalar, a list (atomic) or an empty object.
    static func fieldPaths(_ object: JSONValue) -> Set<[String]> {
        var paths: Set<[String]> = []
        func visit(_ value: JSONValue, _ path: [String]) {
            if case .object(let fields) = value, !fields.isEmpty {
                for (key, child) in fields {
                    if path.isEmpty, ["apiVersion", "kind"].contains(key) { continue }
                    if path == ["metadata"], systemMetadata.contains(key) { continue }
                    visit(child, path + [key])
                }
            } else if !path.isEmpty {
                paths.insert(path)
            }
        }
        visit(object, [])
        return paths
    }

    static func value(at path: [String], in object: JSONValue?) -> JSONValue? {
        path.reduce(object) { $0?[$1] }
    }

    /// `fieldsV1` as Kubernetes writes it: `{"f:spec": {"f:replicas": {}}}`.
    static func fieldsV1(_ paths: Set<[String]>) -> JSONValue {
        var root: [String: JSONValue] = [:]
        func insert(_ path: ArraySlice<String>, into fields: inout [String: JSONValue]) {
            guard let first = path.first else { return }
            var child = fields["f:" + first]?.objectValue ?? [:]
            insert(path.dropFirst(), into: &child)
            fields["f:" + first] = .object(child)
        }
        for path in paths { insert(path[...], into: &root) }
        return .object(root)
    }

    static func paths(ofFieldsV1 fields: JSONValue?) -> Set<[String]> {
        var paths: Set<[String]> = []
        func visit(_ value: JSONValue, _ path: [String]) {
            let children = (value.objectValue ?? [:]).filter { $0.key.hasPrefix("f:") }
            if children.isEmpty, !path.isEmpty { paths.insert(path) }
            for (key, child) in children { visit(child, path + [String(key.dropFirst(2))]) }
        }
        if let fields { visit(fields, []) }
        return paths
    }

    /// One `managedFields` entry, read.
    struct ManagedEntry {
        var manager: String
        var operation: String
        var apiVersion: String
        var subresource: String?
        var paths: Set<[String]>

        init(manager: String, operation: String, apiVersion: String, subresource: String?, paths: Set<[String]>) {
            self.manager = manager
            self.operation = operation
            self.apiVersion = apiVersion
            self.subresource = subresource
            self.paths = paths
        }

        init(_ entry: JSONValue) {
            manager = entry["manager"]?.stringValue ?? ""
            operation = entry["operation"]?.stringValue ?? "Update"
            apiVersion = entry["apiVersion"]?.stringValue ?? ""
            subresource = entry["subresource"]?.stringValue
            paths = KubernetesAPIServer.paths(ofFieldsV1: entry["fieldsV1"])
        }

        func json(time: String) -> JSONValue {
            var fields: [String: JSONValue] = [
                "manager": .string(manager), "operation": .string(operation), "apiVersion": .string(apiVersion), "time": .string(time),
                "fieldsType": "FieldsV1", "fieldsV1": KubernetesAPIServer.fieldsV1(paths),
            ]
            if let subresource { fields["subresource"] = .string(subresource) }
            return .object(fields)
        }

        func isWriter(_ other: ManagedEntry) -> Bool {
            manager == other.manager && operation == other.operation && subresource == other.subresource
        }
    }

    /// Two paths name overlapping fields when one contains the other.
    static func overlaps(_ left: [String], _ right: [String]) -> Bool {
        left.starts(with: right) || right.starts(with: left)
    }

    static func managedEntries(of object: JSONValue?) -> [ManagedEntry] {
        (object?["metadata"]?["managedFields"]?.arrayValue ?? []).map(ManagedEntry.init)
    }

    static func withManagedEntries(_ entries: [ManagedEntry], on object: JSONValue) -> JSONValue {
        guard case .object(var fields) = object else { return object }
        var metadata = fields["metadata"]?.objectValue ?? [:]
        let time = ISO8601DateFormatter().string(from: Date())
        let kept = entries.filter { !$0.paths.isEmpty }
        metadata["managedFields"] = kept.isEmpty ? nil : .array(kept.map { $0.json(time: time) })
        fields["metadata"] = .object(metadata)
        return .object(fields)
    }

    /// `new` with its managed fields after `writer` changed `old` into it (a create, replace or patch): the
    /// fields that changed move to the writer; removed ones are no one's.
    static func recordingUpdate(by writer: ManagedEntry, from old: JSONValue?, to new: JSONValue) -> JSONValue {
        let before = fieldPaths(old ?? [:])
        let after = fieldPaths(new)
        let changed = before.union(after).filter { value(at: $0, in: old) != value(at: $0, in: new) }
        var entries = managedEntries(of: old)
        for index in entries.indices {
            entries[index].paths = entries[index].paths.filter { owned in
                !changed.contains { overlaps($0, owned) } && after.contains { $0.starts(with: owned) }
            }
        }
        let gained = changed.intersection(after)
        if let index = entries.firstIndex(where: { $0.isWriter(writer) }) {
            entries[index].paths.formUnion(gained)
            entries[index].apiVersion = writer.apiVersion
        } else {
            var entry = writer
            entry.paths = gained
            entries.append(entry)
        }
        return withManagedEntries(entries, on: new)
    }

    /// Server-side apply of `config` by `applier` onto `live` (nil: the object is created): the config merges
    /// into the object (objects field by field, lists whole); fields the applier set last time and no longer
    /// sets are removed unless another manager also set them; a field another manager set to a different value
    /// is a conflict, taken from that manager when `force`.
    static func applying(_ config: JSONValue, by applier: ManagedEntry, onto live: JSONValue?, force: Bool) -> Result<JSONValue, ReplyError> {
        let configured = fieldPaths(config)
        var entries = managedEntries(of: live)
        var conflicts: [(manager: String, apiVersion: String, path: [String])] = []
        var merged = deepMerge(live ?? [:], config)
        for index in entries.indices where entries[index].manager != applier.manager {
            for owned in entries[index].paths {
                for path in configured where overlaps(path, owned) && value(at: owned, in: live) != value(at: owned, in: merged) {
                    conflicts.append((entries[index].manager, entries[index].apiVersion, owned))
                    break
                }
            }
        }
        if !conflicts.isEmpty && !force {
            let listed = conflicts.sorted { $0.path.lexicographicallyPrecedes($1.path) }
            let causes: [JSONValue] = listed.map {
                [
                    "reason": "FieldManagerConflict", "message": .string("conflict with \"\($0.manager)\" using \($0.apiVersion)"),
                    "field": .string("." + $0.path.joined(separator: ".")),
                ]
            }
            let lines = listed.map { "conflict with \"\($0.manager)\" using \($0.apiVersion): .\($0.path.joined(separator: "."))" }
            let message = lines.count == 1
                ? "Apply failed with 1 conflict: \(lines[0])"
                : "Apply failed with \(lines.count) conflicts: " + lines.joined(separator: "\n")
            guard case .json(let code, var status) = Self.status(409, "Conflict", message), case .object(var fields) = status else {
                return .failure(ReplyError(reply: Self.status(409, "Conflict", message)))
            }
            fields["details"] = ["causes": .array(causes)]
            status = .object(fields)
            return .failure(ReplyError(reply: .json(code, status)))
        }
        // Forced (or none): the conflicting fields leave their managers.
        for conflict in conflicts {
            for index in entries.indices where entries[index].manager == conflict.manager {
                entries[index].paths = entries[index].paths.filter { !overlaps($0, conflict.path) }
            }
        }
        let previous = entries.first { $0.isWriter(applier) }?.paths ?? []
        let othersOwn = entries.filter { !$0.isWriter(applier) }.flatMap(\.paths)
        for dropped in previous.subtracting(configured) where !othersOwn.contains(where: { overlaps($0, dropped) }) {
            merged = (try? merged.applying([.remove(path: JSONPointer(dropped))])) ?? merged
        }
        entries.removeAll { $0.isWriter(applier) }
        var entry = applier
        entry.paths = configured
        entries.append(entry)
        return .success(withManagedEntries(entries, on: merged))
    }

    /// Objects merged field by field; anything else (lists too) replaced by `overlay`.
    static func deepMerge(_ base: JSONValue, _ overlay: JSONValue) -> JSONValue {
        guard case .object(var fields) = base, case .object(let changes) = overlay else { return overlay }
        for (key, value) in changes {
            fields[key] = fields[key].map { deepMerge($0, value) } ?? value
        }
        return .object(fields)
    }

    /// The manager a write is recorded under: `?fieldManager=`, else the User-Agent's program
    /// (`kubectl/v1.32.4 ...` is `kubectl`), as the API server chooses.
    static func fieldManager(_ request: Request) -> String {
        if let manager = request.query["fieldManager"], !manager.isEmpty { return manager }
        let agent = request.headers.first(name: "user-agent") ?? ""
        let program = agent.split(separator: "/").first.map(String.init) ?? ""
        return program.isEmpty ? "unknown" : program
    }
}
