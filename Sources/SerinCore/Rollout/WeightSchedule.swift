/// The canary weights a rollout walks through, one per step, before promotion sends 100%.
///
/// Built from Flagger's `stepWeight` + `maxWeight` (10/50 → 10, 20, 30, 40, 50) or from an explicit
/// `stepWeights` list; either way it is validated once, so a rollout never meets a bad step.
public struct WeightSchedule: Hashable, Sendable {
    /// How the schedule was written, kept so it can be rendered back the way the user wrote it.
    public enum Source: Hashable, Sendable, Codable {
        case linear(stepWeight: Int, maxWeight: Int)
        case explicit([Int])
    }

    public let source: Source
    /// Canary weight in percent at each step, strictly ascending, each in 1...99.
    public let weights: [Int]

    /// Flagger's `stepWeight`/`maxWeight`: add `stepWeight` until `maxWeight`; a last step that would
    /// overshoot is capped at `maxWeight`, as Flagger does (10/45 → 10, 20, 30, 40, 45).
    public init(stepWeight: Int, maxWeight: Int) throws(WeightScheduleError) {
        guard (1...99).contains(stepWeight) else { throw .stepWeightOutOfRange(stepWeight) }
        guard (1...99).contains(maxWeight) else { throw .maxWeightOutOfRange(maxWeight) }
        guard maxWeight >= stepWeight else { throw .maxWeightBelowStepWeight(maxWeight: maxWeight, stepWeight: stepWeight) }
        self.source = .linear(stepWeight: stepWeight, maxWeight: maxWeight)
        self.weights = Array(stride(from: stepWeight, to: maxWeight, by: stepWeight)) + [maxWeight]
    }

    /// Flagger's `stepWeights`: the weights exactly as listed.
    public init(stepWeights: [Int]) throws(WeightScheduleError) {
        guard !stepWeights.isEmpty else { throw .noSteps }
        for (index, weight) in stepWeights.enumerated() {
            guard (1...99).contains(weight) else { throw .stepOutOfRange(index: index, weight: weight) }
            if index > 0, weight <= stepWeights[index - 1] {
                throw .notAscending(index: index, weight: weight, previous: stepWeights[index - 1])
            }
        }
        self.source = .explicit(stepWeights)
        self.weights = stepWeights
    }

    public init(_ source: Source) throws(WeightScheduleError) {
        switch source {
        case .linear(let stepWeight, let maxWeight): try self.init(stepWeight: stepWeight, maxWeight: maxWeight)
        case .explicit(let weights): try self.init(stepWeights: weights)
        }
    }

    /// Number of steps before promotion.
    public var steps: Int { weights.count }

    /// The canary weight at step `index` (0-based), or nil past either end.
    public func weight(atStep index: Int) -> Int? {
        weights.indices.contains(index) ? weights[index] : nil
    }

    /// Whether `index` is the final step, after which only promotion remains.
    public func isLastStep(_ index: Int) -> Bool {
        index == weights.count - 1
    }

    /// Step `index` as people count it: `2/5` for the second of five steps.
    public func label(atStep index: Int) -> String {
        "\(index + 1)/\(weights.count)"
    }
}

extension WeightSchedule: Codable {
    /// Only the source is stored; decoding validates it again, so a corrupted store cannot yield a bad schedule.
    public init(from decoder: any Decoder) throws {
        let source = try decoder.singleValueContainer().decode(Source.self)
        do {
            try self.init(source)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(source)
    }
}
