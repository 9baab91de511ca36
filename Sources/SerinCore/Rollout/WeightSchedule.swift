/// The canary weights a rollout walks through, one per step, before promotion sends 100%.
///
/// Built from Flagger's `stepWeight` + `maxWeight` (10/50 → 10, 20, 30, 40, 50), from an explicit
/// `stepWeights` list, or from `iterations` (blue/green: every step at weight 0, each one passing analysis);
/// either way it is validated once, so a rollout never meets a bad step. A step ends when an analysis passes,
/// and, for a paced step (`{weight: 25, pause: 10m}` or `pause: promote`), once its pause is over too.
public struct WeightSchedule: Hashable, Sendable {
    /// How the schedule was written, kept so it can be rendered back the way the user wrote it.
    public enum Source: Hashable, Sendable, Codable {
        case linear(stepWeight: Int, maxWeight: Int)
        case explicit([Int])
        /// Blue/green: this many passing analyses with no live traffic on the canary, then 0 → 100 at once.
        case iterations(Int)
        /// `stepWeights` with at least one `{weight, pause}` entry (stored apart so older state reads unchanged).
        case paced([PacedStep])
        /// Flagger's `mirror: true` beside weight steps: one step at weight 0 whose analysis judges the copies of
        /// requests mirrored to the canary, then the weight steps of the schedule inside.
        indirect case mirroredFirst(Source)
    }

    /// One `stepWeights` entry: a weight, and the pause that holds it once its analysis passes (nil: none).
    public struct PacedStep: Hashable, Sendable, Codable {
        public var weight: Int
        public var pause: StepPause?

        public init(weight: Int, pause: StepPause? = nil) {
            self.weight = weight
            self.pause = pause
        }
    }

    public let source: Source
    /// Canary weight in percent at each step: strictly ascending, each in 1...99; or, for iterations, all 0.
    public let weights: [Int]
    /// The pause of each step, as many as `weights`; nil where a step ends at its first passing analysis.
    public let pauses: [StepPause?]

    /// Flagger's `stepWeight`/`maxWeight`: add `stepWeight` until `maxWeight`; a last step that would overshoot is
    /// capped at `maxWeight` (10/45 → 10, 20, 30, 40, 45), where Flagger takes the whole step past it (…, 40, 50):
    /// the canary never gets more than the user wrote.
    public init(stepWeight: Int, maxWeight: Int) throws(WeightScheduleError) {
        guard (1...99).contains(stepWeight) else { throw .stepWeightOutOfRange(stepWeight) }
        guard (1...99).contains(maxWeight) else { throw .maxWeightOutOfRange(maxWeight) }
        guard maxWeight >= stepWeight else { throw .maxWeightBelowStepWeight(maxWeight: maxWeight, stepWeight: stepWeight) }
        self.source = .linear(stepWeight: stepWeight, maxWeight: maxWeight)
        self.weights = Array(stride(from: stepWeight, to: maxWeight, by: stepWeight)) + [maxWeight]
        self.pauses = Array(repeating: nil, count: weights.count)
    }

    /// Flagger's `stepWeights`: the weights exactly as listed.
    public init(stepWeights: [Int]) throws(WeightScheduleError) {
        try Self.validate(stepWeights)
        self.source = .explicit(stepWeights)
        self.weights = stepWeights
        self.pauses = Array(repeating: nil, count: stepWeights.count)
    }

    /// Flagger's `stepWeights` with pauses: each weight as listed, held after its analysis passes for its pause.
    /// Without any pause it is the plain list, stored as such.
    public init(pacedSteps steps: [PacedStep]) throws(WeightScheduleError) {
        try Self.validate(steps.map(\.weight))
        for (index, step) in steps.enumerated() {
            if case .duration(let duration) = step.pause, duration <= .zero {
                throw .pauseNotPositive(index: index, pause: duration)
            }
        }
        let paced = steps.contains { $0.pause != nil }
        self.source = paced ? .paced(steps) : .explicit(steps.map(\.weight))
        self.weights = steps.map(\.weight)
        self.pauses = steps.map(\.pause)
    }

    private static func validate(_ stepWeights: [Int]) throws(WeightScheduleError) {
        guard !stepWeights.isEmpty else { throw .noSteps }
        for (index, weight) in stepWeights.enumerated() {
            guard (1...99).contains(weight) else { throw .stepOutOfRange(index: index, weight: weight) }
            if index > 0, weight <= stepWeights[index - 1] {
                throw .notAscending(index: index, weight: weight, previous: stepWeights[index - 1])
            }
        }
    }

    /// Flagger's `iterations` (blue/green): `count` steps at canary weight 0; only the webhooks' tests reach the
    /// canary until all of them pass.
    public init(iterations count: Int) throws(WeightScheduleError) {
        guard count >= 1 else { throw .iterationsOutOfRange(count) }
        self.source = .iterations(count)
        self.weights = Array(repeating: 0, count: count)
        self.pauses = Array(repeating: nil, count: count)
    }

    /// Flagger's mirroring before weight steps (`mirror: true` with `stepWeight` or `stepWeights`): a first step at
    /// weight 0 while a copy of the requests goes to the canary, then `steps`' weights. Blue/green mirrors in every
    /// iteration instead, so `steps` must be weights.
    public init(mirroringFirst steps: WeightSchedule) throws(WeightScheduleError) {
        guard !steps.isBlueGreen, !steps.mirrorsFirst else { throw .mirrorBeforeNoWeights }
        self.source = .mirroredFirst(steps.source)
        self.weights = [0] + steps.weights
        self.pauses = [nil] + steps.pauses
    }

    public init(_ source: Source) throws(WeightScheduleError) {
        switch source {
        case .linear(let stepWeight, let maxWeight): try self.init(stepWeight: stepWeight, maxWeight: maxWeight)
        case .explicit(let weights): try self.init(stepWeights: weights)
        case .iterations(let count): try self.init(iterations: count)
        case .paced(let steps): try self.init(pacedSteps: steps)
        case .mirroredFirst(let steps): try self.init(mirroringFirst: WeightSchedule(steps))
        }
    }

    /// Whether the first step mirrors requests to the canary at weight 0 before the weights rise (Flagger's
    /// `mirror: true` beside weight steps).
    public var mirrorsFirst: Bool {
        if case .mirroredFirst = source { return true }
        return false
    }

    /// Number of steps before promotion.
    public var steps: Int { weights.count }

    /// Whether the canary takes no live traffic before promotion (blue/green): steps are iterations, and
    /// passing one raises no weight, so no confirm-traffic-increase gate stands between them.
    public var isBlueGreen: Bool {
        if case .iterations = source { return true }
        return false
    }

    /// What one step is called where people read it: `iteration` for blue/green, `step` otherwise.
    public var stepNoun: String { isBlueGreen ? "iteration" : "step" }

    /// The canary weight at step `index` (0-based), or nil past either end.
    public func weight(atStep index: Int) -> Int? {
        weights.indices.contains(index) ? weights[index] : nil
    }

    /// The pause that holds step `index` once its analysis passes; nil when it has none, or past either end.
    public func pause(atStep index: Int) -> StepPause? {
        pauses.indices.contains(index) ? pauses[index] : nil
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
