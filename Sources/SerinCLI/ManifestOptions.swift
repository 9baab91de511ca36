import ArgumentParser
import Foundation
import SerinManifests

/// `-f FILE|DIR ... [-R]`, as kubectl takes manifests; required.
struct ManifestOptions: ParsableArguments {
    @OptionGroup var paths: ManifestPaths

    var files: [String] { paths.files }
    var recursive: Bool { paths.recursive }

    func validate() throws {
        guard files.isEmpty else { return }
        let given = Self.pathsGivenBare(CommandLine.arguments.dropFirst())
        let hint = given.isEmpty ? "(for example: -f examples/seed)" : "(did you mean \(given.map { "-f \($0)" }.joined(separator: " "))?)"
        throw ValidationError("give manifests with -f FILE|DIR \(hint)")
    }

    /// Arguments that name a file or directory without `-f` before them, as `validate` takes them: what a person
    /// meant as manifests. An option's value (`--replay FILE`) is not one.
    static func pathsGivenBare(_ arguments: some Collection<String>) -> [String] {
        var previous: String?
        var paths: [String] = []
        for argument in arguments {
            defer { previous = argument }
            guard !argument.hasPrefix("-"), previous.map({ !$0.hasPrefix("-") || $0.contains("=") }) ?? true else { continue }
            if FileManager.default.fileExists(atPath: argument) { paths.append(argument) }
        }
        return paths
    }

    /// Loads, decodes and validates; reports every diagnostic, on standard error unless `reporter` says otherwise
    /// (with `servingMesh`, not the warnings that a VirtualService needs `--mesh`: the command has it).
    func load(
        servingMesh: Bool = false, reporter: StartupReporter = .terminal
    ) -> (set: ManifestSet, sources: [ManifestSource], loadErrors: Int, loadWarnings: Int) {
        paths.load(servingMesh: servingMesh, reporter: reporter)
    }
}

/// `-f FILE|DIR ... [-R]` for a command that can work without files too (`serin route` asks a running Serin then).
struct ManifestPaths: ParsableArguments {
    @Option(
        name: [.customShort("f"), .customLong("filename")],
        help: ArgumentHelp("A manifest file or directory (repeatable). A directory's .yaml/.yml/.json files are read.", valueName: "path")
    )
    var files: [String] = []

    @Flag(name: [.customShort("R"), .long], help: "Read directories given with -f recursively.")
    var recursive = false

    /// As `ManifestOptions.load`.
    func load(
        servingMesh: Bool = false, reporter: StartupReporter = .terminal
    ) -> (set: ManifestSet, sources: [ManifestSource], loadErrors: Int, loadWarnings: Int) {
        ManifestReading.read(paths: files, recursive: recursive, servingMesh: servingMesh, reporter: reporter)
    }
}

/// Reads manifests and reports their diagnostics the same way for every command.
enum ManifestReading {
    /// - Parameter strict: a document of a kind Serin does not read, and a field it does not know, is an error, not a warning.
    static func read(
        paths: [String], recursive: Bool, strict: Bool = false, servingMesh: Bool = false, reporter: StartupReporter = .terminal
    ) -> (set: ManifestSet, sources: [ManifestSource], loadErrors: Int, loadWarnings: Int) {
        let loaded = ManifestLoader.load(paths: paths, recursive: recursive)
        var set = ManifestSet(sources: loaded.sources)
        if strict { set.diagnostics = set.diagnostics.strict }
        if servingMesh { set.diagnostics = set.diagnostics.servingTheMesh }
        for diagnostic in inReadingOrder(loaded.diagnostics + set.diagnostics, sources: loaded.sources) { reporter.report(diagnostic) }
        return (
            set, loaded.sources, loaded.diagnostics.filter { $0.severity == .error }.count,
            loaded.diagnostics.filter { $0.severity == .warning }.count
        )
    }

    /// Diagnostics as a compiler lists them: by file in the order the files were read, then by line and column, so
    /// a resource's field errors and what its references lack come together. What has no place comes last, as found.
    static func inReadingOrder(_ diagnostics: [Diagnostic], sources: [ManifestSource]) -> [Diagnostic] {
        var fileOrder: [String: Int] = [:]
        for (index, source) in sources.enumerated() where fileOrder[source.path] == nil { fileOrder[source.path] = index }
        func key(_ diagnostic: Diagnostic) -> (Int, Int, Int) {
            guard let location = diagnostic.location else { return (Int.max, Int.max, Int.max) }
            return (fileOrder[location.file] ?? sources.count, location.line, location.column)
        }
        return diagnostics.enumerated()
            .sorted { left, right in
                let (a, b) = (key(left.element), key(right.element))
                return a != b ? a < b : left.offset < right.offset
            }
            .map(\.element)
    }
}
