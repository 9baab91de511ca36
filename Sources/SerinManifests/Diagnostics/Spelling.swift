/// The "did you mean" of a name that is not known: the one known name a slip of the keyboard away (a letter left
/// out, added, changed or two swapped), so `treshold` points to `threshold` and `VirtualServce` to `VirtualService`.
public enum Spelling {
    /// The closest of `names` to `word`, when exactly one is close: one edit for names of up to four letters, two
    /// for longer ones; nil when none is, or two are equally close.
    public static func suggestion(for word: String, among names: some Sequence<String>) -> String? {
        let typed = Array(word.lowercased().utf8)
        let allowed = typed.count <= 4 ? 1 : 2
        var best: (name: String, distance: Int)?
        var tied = false
        for name in names where name != word {
            let distance = edits(typed, Array(name.lowercased().utf8), atMost: allowed)
            guard distance <= allowed else { continue }
            if let current = best, current.distance <= distance {
                if current.distance == distance { tied = true }
                continue
            }
            best = (name, distance)
            tied = false
        }
        return tied ? nil : best?.name
    }

    /// Edits (insertions, deletions, substitutions, swaps of neighbours) from `a` to `b`; any count above `limit`
    /// is reported as `limit + 1`.
    static func edits(_ a: [UInt8], _ b: [UInt8], atMost limit: Int) -> Int {
        guard abs(a.count - b.count) <= limit else { return limit + 1 }
        guard !a.isEmpty, !b.isEmpty else { return min(max(a.count, b.count), limit + 1) }
        // Three rows of the table: the one before last (for swaps), the last, and the one being filled.
        var twoBack = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { current[j] = min(current[j], twoBack[j - 2] + 1) }
            }
            (twoBack, previous, current) = (previous, current, twoBack)
        }
        return min(previous[b.count], limit + 1)
    }
}
