extension Rollout: Codable {
    private enum CodingKeys: String, CodingKey {
        case spec, status
    }

    /// Validates what it decodes, so a corrupted or hand-edited store cannot yield a rollout that breaks later.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let spec = try container.decode(CanarySpec.self, forKey: .spec)
        let status = try container.decode(RolloutStatus.self, forKey: .status)
        do {
            try spec.validate()
        } catch {
            throw DecodingError.dataCorruptedError(forKey: .spec, in: container, debugDescription: error.description)
        }
        if let step = status.stepIndex, spec.analysis.schedule.weight(atStep: step) == nil {
            throw DecodingError.dataCorruptedError(forKey: .status, in: container, debugDescription:
                "stepIndex is \(step), expected below the schedule's \(spec.analysis.schedule.steps) steps")
        }
        guard (0...100).contains(status.canaryWeight) else {
            throw DecodingError.dataCorruptedError(forKey: .status, in: container, debugDescription:
                "canaryWeight is \(status.canaryWeight), expected 0 to 100")
        }
        self.spec = spec
        self.status = status
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(spec, forKey: .spec)
        try container.encode(status, forKey: .status)
    }
}
