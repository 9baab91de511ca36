import Foundation
import PackagePlugin

/// Builds files people edit into a module as Swift strings (`EmbeddedText`), so they are the ones every binary
/// serves and the binary needs no resource directory beside it: for SerinServer the OpenAPI document, the
/// dashboard page and the commit built, for SerinCLI the seed's manifests and the example Canary `serin demo` runs.
@main
struct EmbedText: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) async throws -> [Command] {
        let root = context.package.directoryURL
        let files: [(String, URL)]
        switch target.name {
        case "SerinServer":
            files = [("openAPI", root.appending(path: "docs/openapi.json")), ("dashboard", root.appending(path: "Sources/SerinServer/dashboard.html"))]
        case "SerinCLI":
            files = [("seed", root.appending(path: "examples/seed")), ("canary", root.appending(path: "examples/canary"))]
        default:
            throw Failure(description: "EmbedText knows no files for target \(target.name)")
        }
        // A directory's files are inputs too, so editing one rebuilds.
        var inputs: [URL] = []
        for (_, url) in files {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path())) ?? []
            inputs += names.isEmpty ? [url] : names.filter { $0.hasSuffix(".yaml") }.map { url.appending(path: $0) }
        }
        var values: [String] = []
        if target.name == "SerinServer" { values.append("build:=\(Self.commit(in: root) ?? "unknown")") }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedText.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(files.map { $0.1.lastPathComponent }.joined(separator: ", ")) in \(target.name)",
                executable: try context.tool(named: "serin-embed-text").url,
                arguments: [output.path()] + files.map { "\($0.0)=\($0.1.path())" } + values,
                inputFiles: inputs,
                outputFiles: [output]
            ),
        ]
    }

    /// The commit checked out in `root`'s git repository (a worktree's too), read from its files: nil outside one
    /// (a source archive, a container build without `.git`).
    static func commit(in root: URL) -> String? {
        func text(_ url: URL) -> String? {
            (try? String(contentsOf: url, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var gitDirectory = root.appending(path: ".git")
        if let pointer = text(gitDirectory), pointer.hasPrefix("gitdir: ") {
            gitDirectory = URL(fileURLWithPath: String(pointer.dropFirst("gitdir: ".count)), relativeTo: root)
        }
        guard let head = text(gitDirectory.appending(path: "HEAD")) else { return nil }
        guard head.hasPrefix("ref: ") else { return String(head.prefix(12)) }
        let ref = String(head.dropFirst("ref: ".count))
        let common = text(gitDirectory.appending(path: "commondir")).map { URL(fileURLWithPath: $0, relativeTo: gitDirectory) } ?? gitDirectory
        for directory in [gitDirectory, common] {
            if let commit = text(directory.appending(path: ref)) { return String(commit.prefix(12)) }
            let packed = text(directory.appending(path: "packed-refs"))?.split(separator: "\n") ?? []
            if let line = packed.first(where: { $0.hasSuffix(" " + ref) }) { return String(line.prefix(12)) }
        }
        return nil
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }
}
