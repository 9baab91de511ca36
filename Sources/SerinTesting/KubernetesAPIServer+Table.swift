import Foundation
import SerinCore
import SerinKubernetes

/// `kubectl get` asks for `application/json;as=Table;v=v1;g=meta.k8s.io` and prints the columns the server
/// chooses: a CRD's `additionalPrinterColumns` (Name and Age when it has none), a Deployment's Ready,
/// Up-to-date and Available, an Event's Last Seen, Type, Reason, Object and Message; Name and Age for the rest.
/// Ages are formatted by the server, as Kubernetes' `HumanDuration` does; each row carries the object's
/// metadata (`includeObject=Metadata`, the default), the whole object (`Object`) or nothing (`None`).
extension KubernetesAPIServer {
    /// Whether the client asked for a Table rather than the objects.
    static func wantsTable(_ headers: [String]) -> Bool {
        headers.joined(separator: ",").split(separator: ",").first.map { $0.contains("as=Table") } ?? false
    }

    /// `objects` as a `meta.k8s.io/v1` Table of `resource`'s columns.
    static func table(_ objects: [JSONValue], of resource: ServedResource, includeObject: String?, resourceVersion: String?, now: Date = Date()) -> JSONValue {
        let columns = self.columns(of: resource)
        let rows: [JSONValue] = objects.map { object in
            var row: [String: JSONValue] = ["cells": .array(columns.map { $0.cell(object, now) })]
            switch includeObject {
            case "None": break
            case "Object": row["object"] = object
            default:
                row["object"] = [
                    "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": object["metadata"] ?? [:],
                ]
            }
            return .object(row)
        }
        var metadata: [String: JSONValue] = [:]
        if let resourceVersion { metadata["resourceVersion"] = .string(resourceVersion) }
        return [
            "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": .object(metadata),
            "columnDefinitions": .array(columns.map(\.definition)), "rows": .array(rows),
        ]
    }

    /// One column: its definition and how a cell is read from an object.
    struct Column: Sendable {
        let definition: JSONValue
        let cell: @Sendable (JSONValue, Date) -> JSONValue

        init(
            _ name: String, type: String = "string", format: String = "", priority: Int = 0, description: String = "",
            cell: @escaping @Sendable (JSONValue, Date) -> JSONValue
        ) {
            definition = [
                "name": .string(name), "type": .string(type), "format": .string(format), "description": .string(description),
                "priority": .number(Double(priority)),
            ]
            self.cell = cell
        }

        static let name = Column("Name", format: "name", description: "Name must be unique within a namespace.") { object, _ in
            object["metadata"]?["name"] ?? ""
        }
        static let age = Column("Age", description: "CreationTimestamp is when the object was created.") { object, now in
            .string(KubernetesAPIServer.age(of: object["metadata"]?["creationTimestamp"], now: now))
        }
    }

    static func columns(of resource: ServedResource) -> [Column] {
        switch (resource.group, resource.plural) {
        case ("apps", "deployments"):
            return [
                .name,
                Column("Ready", description: "Number of the pod with ready state") { object, _ in
                    .string("\(object["status"]?["readyReplicas"]?.intValue ?? 0)/\(object["spec"]?["replicas"]?.intValue ?? 1)")
                },
                Column("Up-to-date", type: "integer", description: "Total number of non-terminated pods targeted by this deployment that have the desired template spec.") { object, _ in
                    .number(Double(object["status"]?["updatedReplicas"]?.intValue ?? 0))
                },
                Column("Available", type: "integer", description: "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.") { object, _ in
                    .number(Double(object["status"]?["availableReplicas"]?.intValue ?? 0))
                },
                .age,
                Column("Containers", priority: 1, description: "Names of each container in the template.") { object, _ in
                    .string(containers(of: object).compactMap { $0["name"]?.stringValue }.joined(separator: ","))
                },
                Column("Images", priority: 1, description: "Images referenced by each container in the template.") { object, _ in
                    .string(containers(of: object).compactMap { $0["image"]?.stringValue }.joined(separator: ","))
                },
            ]
        case ("", "events"):
            return [
                Column("Last Seen", description: "Time when last event occurred") { object, now in
                    .string(age(of: object["lastTimestamp"] ?? object["eventTime"], now: now))
                },
                Column("Type", description: "Type of this event (Normal, Warning)") { object, _ in object["type"] ?? "" },
                Column("Reason", description: "Short, machine understandable string that gives the reason for the event") { object, _ in
                    object["reason"] ?? ""
                },
                Column("Object", description: "The object that this event is about.") { object, _ in
                    .string("\((object["involvedObject"]?["kind"]?.stringValue ?? "").lowercased())/\(object["involvedObject"]?["name"]?.stringValue ?? "")")
                },
                Column("Message", description: "A human-readable description of the status of this operation.") { object, _ in
                    object["message"] ?? ""
                },
            ]
        case ("", "namespaces"):
            return [.name, Column("Status", description: "The status of the namespace") { object, _ in object["status"]?["phase"] ?? "Active" }, .age]
        default:
            guard !resource.printerColumns.isEmpty else { return [.name, .age] }
            return [.name] + resource.printerColumns.map(printerColumn)
        }
    }

    private static func containers(of deployment: JSONValue) -> [JSONValue] {
        deployment["spec"]?["template"]?["spec"]?["containers"]?.arrayValue ?? []
    }

    /// A CRD's additional printer column: its JSONPath read from the object, typed as the API server's CRD table
    /// convertor types it: a `string` column prints any value (a number as `10`, a list as `[5,10]`), a `date` is
    /// shown as an age, and a value not of an `integer`, `number` or `boolean` column's type, or missing, is an
    /// empty cell.
    private static func printerColumn(_ definition: JSONValue) -> Column {
        let type = definition["type"]?.stringValue ?? "string"
        let path = definition["jsonPath"]?.stringValue ?? ""
        return Column(
            definition["name"]?.stringValue ?? path, type: type, format: definition["format"]?.stringValue ?? "",
            priority: definition["priority"]?.intValue ?? 0, description: definition["description"]?.stringValue ?? ""
        ) { object, now in
            guard let value = simpleJSONPath(path, in: object), value != .null else { return .null }
            switch type {
            case "string": return .string(value.stringValue ?? value.description)
            case "date": return .string(age(of: value, now: now))
            case "integer": return value.intValue.map { .number(Double($0)) } ?? .null
            case "number": return value.numberValue.map(JSONValue.number) ?? .null
            case "boolean": return if case .bool = value { value } else { .null }
            default: return value
            }
        }
    }

    /// A JSONPath of fields and indexes (`.status.phase`, `.spec.http[0].route`), as printer columns write them.
    static func simpleJSONPath(_ path: String, in object: JSONValue) -> JSONValue? {
        var value: JSONValue? = object
        for part in path.split(separator: ".") {
            var name = Substring(part)
            var indexes: [Int] = []
            while let open = name.lastIndex(of: "["), name.hasSuffix("]") {
                guard let index = Int(name[name.index(after: open)..<name.index(before: name.endIndex)]) else { return nil }
                indexes.insert(index, at: 0)
                name = name[..<open]
            }
            if !name.isEmpty { value = value?[String(name)] }
            for index in indexes { value = value?[index] }
        }
        return value
    }

    /// How long ago `timestamp` (RFC 3339) was, as Kubernetes' `duration.HumanDuration` writes it.
    static func age(of timestamp: JSONValue?, now: Date) -> String {
        guard let text = timestamp?.stringValue, let seconds = RFC3339.unixSeconds(text) else { return "<unknown>" }
        let date = Date(timeIntervalSince1970: seconds)
        return humanDuration(now.timeIntervalSince(date))
    }

    static func humanDuration(_ interval: TimeInterval) -> String {
        let seconds = Int(interval)
        if seconds < -1 { return "<invalid>" }
        if seconds < 0 { return "0s" }
        if seconds < 120 { return "\(seconds)s" }
        let minutes = seconds / 60
        if minutes < 10 { return seconds % 60 == 0 ? "\(minutes)m" : "\(minutes)m\(seconds % 60)s" }
        if minutes < 180 { return "\(minutes)m" }
        let hours = minutes / 60
        if hours < 8 { return minutes % 60 == 0 ? "\(hours)h" : "\(hours)h\(minutes % 60)m" }
        if hours < 48 { return "\(hours)h" }
        if hours < 24 * 8 { return hours % 24 == 0 ? "\(hours / 24)d" : "\(hours / 24)d\(hours % 24)h" }
        if hours < 24 * 365 * 2 { return "\(hours / 24)d" }
        if hours < 24 * 365 * 8 { return (hours / 24) % 365 == 0 ? "\(hours / 24 / 365)y" : "\(hours / 24 / 365)y\((hours / 24) % 365)d" }
        return "\(hours / 24 / 365)y"
    }
}
