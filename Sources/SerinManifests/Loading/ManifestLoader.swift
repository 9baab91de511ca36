import Foundation
import SerinSystem

/// Reads manifest files the way `kubectl apply -f` finds them, so users can point Serin at the same paths.
public enum ManifestLoader {
    /// Extensions kubectl reads from a directory.
    public static let manifestExtensions: Set<String> = ["yaml", "yml", "json"]

    /// A file is read whatever its name; a directory's `*.yaml`, `*.yml` and `*.json` files directly in it
    /// are read, sorted by name; with `recursive`, its subdirectories too (in the same sorted walk).
    /// A missing path or an unreadable file is an error diagnostic without location that names the path.
    public static func load(paths: [String], recursive: Bool) -> (sources: [ManifestSource], diagnostics: [Diagnostic]) {
        var sources: [ManifestSource] = []
        var diagnostics: [Diagnostic] = []
        var read = ReadFiles()
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                diagnostics.append(.error("cannot read \(path): no such file or directory", at: nil))
                continue
            }
            if isDirectory.boolValue {
                let before = (sources.count, diagnostics.count)
                let subdirectories = walk(directory: path, recursive: recursive, sources: &sources, diagnostics: &diagnostics, read: &read)
                if (sources.count, diagnostics.count) == before { diagnostics.append(nothingIn(path, recursive: recursive, subdirectories: subdirectories)) }
            } else {
                Self.read(file: path, sources: &sources, diagnostics: &diagnostics, read: &read)
            }
        }
        return (sources, diagnostics)
    }

    /// A directory given that holds nothing to read: said, since a command then runs on no resources at all. Its
    /// subdirectories are named when `-R` would read them (as `examples/` holds `seed/` and `canary/`).
    private static func nothingIn(_ directory: String, recursive: Bool, subdirectories: [String]) -> Diagnostic {
        let shown = subdirectories.prefix(3).joined(separator: ", ") + (subdirectories.count > 3 ? ", …" : "")
        let hint = recursive || subdirectories.isEmpty ? "" : "; its subdirectories (\(shown)) are read with -R"
        return .warning("\(directory) holds no .yaml, .yml or .json file\(recursive ? " at any depth" : "")\(hint)", at: nil)
    }

    /// Reads the directory's manifests (and its subdirectories', when `recursive`); returns the names of its
    /// subdirectories.
    @discardableResult
    private static func walk(
        directory: String, recursive: Bool, sources: inout [ManifestSource], diagnostics: inout [Diagnostic], read: inout ReadFiles
    ) -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        } catch {
            diagnostics.append(.error("cannot read directory \(directory): \(FileErrorText.reason(error))", at: nil))
            return []
        }
        var subdirectories: [String] = []
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        for name in names {
            let path = "\(base)/\(name)"
            let isManifest = name.lastIndex(of: ".").map { manifestExtensions.contains(name[name.index(after: $0)...].lowercased()) } ?? false
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                // A link to nothing: kubectl fails on it rather than apply the directory without it, and so does Serin.
                if isManifest, let target = try? FileManager.default.destinationOfSymbolicLink(atPath: path) {
                    diagnostics.append(.error("cannot read \(path): a symbolic link to \(target), which does not exist", at: nil))
                } else if isManifest, name.unicodeScalars.contains("\u{FFFD}") {
                    // Foundation reads a name that is not UTF-8 with U+FFFD in place of its bytes: no such path opens.
                    diagnostics.append(.error("cannot read \(path): its name is not UTF-8 (rename it)", at: nil))
                }
                continue
            }
            if isDirectory.boolValue {
                subdirectories.append(name)
                if recursive { walk(directory: path, recursive: true, sources: &sources, diagnostics: &diagnostics, read: &read) }
            } else if isManifest {
                Self.read(file: path, sources: &sources, diagnostics: &diagnostics, read: &read)
            }
        }
        return subdirectories
    }

    private static func read(file path: String, sources: inout [ManifestSource], diagnostics: inout [Diagnostic], read: inout ReadFiles) {
        // The same file named twice (`examples/seed` and `./examples/seed`, a directory and a file in it) is read
        // once: read twice, each of its resources would be a duplicate of itself.
        if let first = read.first(path) {
            diagnostics.append(.warning("\(path) is the file \(first) already given: read once", at: nil))
            return
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            diagnostics.append(.error("cannot read \(path): permission denied or not a regular file", at: nil))
            return
        }
        guard let text = String(data: data, encoding: .utf8) else {
            diagnostics.append(.error("cannot read \(path): the file is not UTF-8 text", at: nil))
            return
        }
        sources.append(ManifestSource(path: path, text: text))
    }

    /// The files read so far, by their path with `.`, `..` and symbolic links resolved.
    struct ReadFiles {
        private var given: [String: String] = [:]

        /// The path `path` was first given as, when the same file was read already; else nil, and `path` is noted.
        mutating func first(_ path: String) -> String? {
            let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().standardizedFileURL.path
            if let earlier = given[resolved] { return earlier }
            given[resolved] = path
            return nil
        }
    }
}
