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
            let hint = YAMLSyntaxHint.hint(problem: problem, at: mark.line, context: context.map { ($0.text, $0.mark) }, lines: lines)
            return .error("YAML syntax error: \(contextText)\(problem)\(hint.map { " (\($0))" } ?? "")", at: at(mark))
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "\"\($0)\"" }.joined(separator: ", ")
            // Yams marks the key's first occurrence; the line to fix is where it is written again.
            let again = duplicates.first.flatMap { YAMLSyntaxHint.secondKey("\($0)", inMappingAt: context.mark, lines: lines) }
            return .error(
                "YAML syntax error: duplicate key \(keys) in a mapping",
                at: again.map { SourceLocation(file: source.path, line: $0.line, column: $0.column) } ?? at(context.mark))
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

/// What usually causes libyaml's error, said in the file's terms: libyaml names the parser's state ("did not find
/// expected key"), which tells a person who indented a line one space too far nothing about that line.
enum YAMLSyntaxHint {
    /// Where `key` is written the second time in a block mapping, from `mark` (its first occurrence, or the
    /// mapping's first key; 1-based line and column): the next lines at that indentation (a `- ` before a key counts as indentation), until one
    /// less indented ends it. Nil for a flow mapping (`{a: 1, a: 2}`) or a key written otherwise (quoted, complex).
    static func secondKey(_ key: String, inMappingAt mark: Mark, lines: [Substring]) -> (line: Int, column: Int)? {
        let indent = max(mark.column, 1) - 1
        var seen = 0
        for index in max(mark.line - 1, 0)..<lines.count {
            let line = lines[index]
            let lead = line.prefix { $0 == " " || $0 == "-" }.count
            let content = line.dropFirst(lead)
            if content.isEmpty || content.hasPrefix("#") { continue }
            if lead < indent { break }
            guard lead == indent, content.hasPrefix("\(key):") else { continue }
            seen += 1
            if seen == 2 { return (index + 1, indent + 1) }
        }
        return nil
    }

    /// A hint for `problem` reported at 1-based `line` of `lines`, or nil where no usual cause fits.
    static func hint(problem: String, at line: Int, context: (text: String, mark: Mark)?, lines: [Substring]) -> String? {
        guard line >= 1, line <= lines.count else { return nil }
        let text = lines[line - 1]
        if text.prefix(while: { $0 == " " || $0 == "\t" }).contains("\t") {
            return "line \(line) is indented with a tab: YAML indents with spaces only"
        }
        if problem == "mapping values are not allowed in this context" {
            // Deeper than a line whose key has its value already: the line was meant as that key's sibling.
            if let previous = previousContentLine(before: line, in: lines), indentation(of: text) > indentation(of: lines[previous - 1]),
                !lines[previous - 1].trimmingSuffix(while: { $0 == " " }).hasSuffix(":")
            {
                return "line \(line) is indented more than line \(previous); a mapping's keys start in one column, and a value "
                    + "that is itself a mapping starts on the line after its key"
            }
            return "a value holding \": \" is read as a key; quote it"
        }
        if let context, context.text == "while parsing a block mapping", problem == "did not find expected key" {
            let column = indentation(of: text) + 1
            var keys = "the keys of the mapping at line \(context.mark.line) start at column \(context.mark.column)"
            if let previous = previousContentLine(before: line, in: lines), previous != context.mark.line {
                let previousKey = keyColumn(of: lines[previous - 1])
                if previousKey != column, previousKey != context.mark.column { keys = "line \(previous)'s key is at column \(previousKey), and " + keys }
            }
            return "line \(line) starts at column \(column), lining up with no key above it: \(keys)"
        }
        if let context, context.text == "while parsing a flow mapping" || context.text == "while parsing a flow sequence" {
            let bracket = context.text.hasSuffix("mapping") ? "{" : "["
            return "the \(bracket) at line \(context.mark.line), column \(context.mark.column) is not closed, or two of its items "
                + "lack a comma between them"
        }
        return nil
    }

    private static func indentation(of line: Substring) -> Int {
        line.prefix(while: { $0 == " " }).count
    }

    /// The 1-based column of a line's first key: after its indentation and any "- " that opens a sequence item.
    private static func keyColumn(of line: Substring) -> Int {
        var rest = line.drop(while: { $0 == " " })
        var column = line.count - rest.count + 1
        while rest.hasPrefix("- ") {
            let item = rest.dropFirst(2).drop(while: { $0 == " " })
            column += rest.count - item.count
            rest = item
        }
        return column
    }

    /// The 1-based number of the nearest line before `line` holding more than spaces or a comment.
    private static func previousContentLine(before line: Int, in lines: [Substring]) -> Int? {
        stride(from: line - 1, through: 1, by: -1).first { number in
            let trimmed = lines[number - 1].drop(while: { $0 == " " })
            return !trimmed.isEmpty && !trimmed.hasPrefix("#")
        }
    }
}

extension Substring {
    fileprivate func trimmingSuffix(while predicate: (Character) -> Bool) -> Substring {
        var end = endIndex
        while end > startIndex, predicate(self[index(before: end)]) { end = index(before: end) }
        return self[startIndex..<end]
    }
}
