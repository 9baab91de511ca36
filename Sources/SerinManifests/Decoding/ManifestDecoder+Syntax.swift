import Yams

extension ManifestDecoder {
    /// A Yams parse error as a located diagnostic: the problem text without Yams' echo of the input.
    static func syntaxDiagnostic(_ error: YamlError, source: ManifestSource) -> Diagnostic {
        // libyaml reports an error at the end of input one line past a last line without a newline:
        // point at the end of that last line instead, where an editor can go.
        let lines = source.text.split(separator: "\n", omittingEmptySubsequences: false)
        func at(_ mark: Mark) -> SourceLocation {
            if mark.line > lines.count, let last = lines.last {
                return SourceLocation(file: source.path, line: lines.count, column: last.count + 1)
            }
            return SourceLocation(file: source.path, line: max(mark.line, 1), column: max(mark.column, 1))
        }
        switch error {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let contextText = context.map { "\($0.text) at line \($0.mark.line), column \($0.mark.column): " } ?? ""
            return .error("YAML syntax error: \(contextText)\(problem)", at: at(mark))
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "\"\($0)\"" }.joined(separator: ", ")
            return .error("YAML syntax error: duplicate key \(keys) in a mapping", at: at(context.mark))
        case .reader(let problem, let offset, _, _):
            return .error("YAML syntax error: \(problem)", at: location(ofOffset: offset ?? 0, in: source))
        default:
            return .error("YAML syntax error: \(error)", at: SourceLocation(file: source.path, line: 1, column: 1))
        }
    }

    /// Line and column of the character at `offset`.
    private static func location(ofOffset offset: Int, in source: ManifestSource) -> SourceLocation {
        var line = 1
        var column = 1
        for character in source.text.prefix(offset) {
            if character == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return SourceLocation(file: source.path, line: line, column: column)
    }
}
