import Foundation
import SerinManifests
import SerinTesting
import Testing

/// Random and malformed YAML, made by mutating the repository's own example manifests: every input gets
/// located diagnostics or decodes; none crashes, hangs or points outside its file.
@Suite("Manifest decoder under fuzzing", .timeLimit(.minutes(2)))
struct ManifestFuzzTests {
    static let casesPerFile = 150

    static let examples: [ManifestSource] = [Fixture.seedDirectory, Fixture.canaryDirectory].flatMap { directory in
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted().filter { $0.hasSuffix(".yaml") }.compactMap { name in
            let path = "\(directory)/\(name)"
            return (try? String(contentsOfFile: path, encoding: .utf8)).map { ManifestSource(path: name, text: $0) }
        }
    }

    static let oddScalars = [
        "", "~", "null", "-5", "0", "1e309", "99999999999999999999", "[]", "{}", "[1, 2", "{a: b", "\"unterminated",
        "'x'", "true", "0x1F", ".nan", "-.inf", "*alias", "&anchor x", "!!binary aGk=", "|", ">-", "é✓", "\u{0}",
        "1s", "-1s", "100000h", "abc%", "{{ interval }}",
    ]
    static let oddCharacters: [Character] = [":", "-", "{", "}", "[", "]", "\"", "'", "#", "&", "*", "!", "|", ">", "\t", "\u{0}", "é", "%", "@", "`", "\r"]

    /// One to three random edits: lines deleted, duplicated, swapped, re-indented, split by `---`;
    /// characters inserted; scalar values replaced with other types; the text cut short.
    static func mutate(_ text: String, using random: inout SeededRandom) -> String {
        var lines = text.components(separatedBy: "\n")
        for _ in 0..<Int.random(in: 1...3, using: &random) where !lines.isEmpty {
            let index = Int.random(in: 0..<lines.count, using: &random)
            switch Int.random(in: 0..<8, using: &random) {
            case 0: lines.remove(at: index)
            case 1: lines.insert(lines[index], at: index)
            case 2: lines.swapAt(index, Int.random(in: 0..<lines.count, using: &random))
            case 3:
                let shift = Int.random(in: -3...3, using: &random)
                lines[index] = shift >= 0
                    ? String(repeating: " ", count: shift) + lines[index]
                    : String(lines[index].dropFirst(min(-shift, lines[index].prefix { $0 == " " }.count)))
            case 4: lines.insert("---", at: index)
            case 5:
                var line = Array(lines[index])
                line.insert(oddCharacters.randomElement(using: &random)!, at: Int.random(in: 0...line.count, using: &random))
                lines[index] = String(line)
            case 6:
                if let colon = lines[index].firstIndex(of: ":") {
                    lines[index] = String(lines[index][...colon]) + " " + oddScalars.randomElement(using: &random)!
                }
            default:
                let joined = lines.joined(separator: "\n")
                let cut = Int.random(in: 0...joined.count, using: &random)
                lines = String(joined.prefix(cut)).components(separatedBy: "\n")
            }
        }
        return lines.joined(separator: "\n")
    }

    @Test("every mutated example decodes or gets diagnostics located inside its own file")
    func mutatedExamples() {
        var random = SeededRandom.fromEnvironment(fallback: 20_261_126)
        #expect(Self.examples.count >= 5, "examples not found under \(Fixture.seedDirectory)")
        let shape = /^[^:\n]+:\d+:\d+: (error|warning): .+$/
        var withErrors = 0
        for example in Self.examples {
            for number in 0..<Self.casesPerFile {
                let text = Self.mutate(example.text, using: &random)
                let source = ManifestSource(path: example.path, text: text)
                let set = ManifestSet(sources: [source])
                let lineCount = text.components(separatedBy: "\n").count
                let replay = "seed \(random.seed), \(example.path) case \(number):\n\(text)"
                for diagnostic in set.diagnostics {
                    guard let location = diagnostic.location else {
                        Issue.record("diagnostic without a location: \(diagnostic) (\(replay))")
                        continue
                    }
                    #expect(location.file == example.path, "\(diagnostic) (\(replay))")
                    #expect((1...lineCount + 1).contains(location.line) && location.column >= 1, "\(diagnostic) (\(replay))")
                    #expect(diagnostic.description.wholeMatch(of: shape) != nil, "\(diagnostic) (\(replay))")
                }
                if set.hasErrors { withErrors += 1 }
                // Deterministic: the same text always gets the same answer.
                #expect(ManifestSet(sources: [source]).diagnostics == set.diagnostics, "\(replay)")
            }
        }
        // The mutations must actually break things, or this test proves nothing.
        #expect(withErrors > Self.examples.count * Self.casesPerFile / 4, "only \(withErrors) mutated files had errors")
    }
}
