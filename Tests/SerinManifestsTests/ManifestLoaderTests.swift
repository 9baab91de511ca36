import Foundation
import SerinManifests
import Testing
import SerinSystem

@Suite("ManifestLoader")
struct ManifestLoaderTests {
    /// A fresh directory: b.yaml, a.yml, c.json, notes.txt and sub/d.yaml.
    private func makeTree() throws -> String {
        let root = FileManager.default.temporaryDirectory
            .appendingPathComponent("serin-loader-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/sub", withIntermediateDirectories: true)
        for name in ["b.yaml", "a.yml", "c.json", "notes.txt", "sub/d.yaml"] {
            try Data("# \(name)\n".utf8).write(to: URL(fileURLWithPath: "\(root)/\(name)"))
        }
        return root
    }

    @Test("reads a directory's manifest files sorted by name, without subdirectories")
    func directory() throws {
        let root = try makeTree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let loaded = ManifestLoader.load(paths: [root], recursive: false)
        #expect(loaded.diagnostics.isEmpty)
        #expect(loaded.sources.map(\.path) == ["\(root)/a.yml", "\(root)/b.yaml", "\(root)/c.json"])
        #expect(loaded.sources.first?.text == "# a.yml\n")
    }

    @Test("a file given twice, by another path or inside a directory also given, is read once, with a warning naming both paths")
    func fileGivenTwice() throws {
        let root = try makeTree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let loaded = ManifestLoader.load(paths: [root, "\(root)/./b.yaml", "\(root)/sub/../a.yml"], recursive: false)
        #expect(loaded.sources.map(\.path) == ["\(root)/a.yml", "\(root)/b.yaml", "\(root)/c.json"])
        #expect(loaded.diagnostics.map(\.description) == [
            "warning: \(root)/./b.yaml is the file \(root)/b.yaml already given: read once",
            "warning: \(root)/sub/../a.yml is the file \(root)/a.yml already given: read once",
        ])
    }

    @Test("reads subdirectories too when recursive")
    func recursive() throws {
        let root = try makeTree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let loaded = ManifestLoader.load(paths: [root], recursive: true)
        #expect(
            loaded.sources.map(\.path) == ["\(root)/a.yml", "\(root)/b.yaml", "\(root)/c.json", "\(root)/sub/d.yaml"]
        )
    }

    @Test("a directory with nothing to read is a warning that names the subdirectories -R would read; with -R, one that holds nothing at any depth")
    func nothingToRead() throws {
        let root = try makeTree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        for name in ["a.yml", "b.yaml", "c.json"] { try FileManager.default.removeItem(atPath: "\(root)/\(name)") }
        try FileManager.default.createDirectory(atPath: "\(root)/empty", withIntermediateDirectories: false)
        let flat = ManifestLoader.load(paths: [root], recursive: false)
        #expect(flat.sources.isEmpty)
        #expect(Fixture.messages(flat.diagnostics) == [
            "warning: \(root) holds no .yaml, .yml or .json file; its subdirectories (empty, sub) are read with -R",
        ])
        #expect(ManifestLoader.load(paths: [root], recursive: true).diagnostics.isEmpty, "-R reads sub/d.yaml")
        let empty = ManifestLoader.load(paths: ["\(root)/empty"], recursive: true)
        #expect(Fixture.messages(empty.diagnostics) == ["warning: \(root)/empty holds no .yaml, .yml or .json file at any depth"])
    }

    @Test("reads a named file whatever its extension")
    func namedFile() throws {
        let root = try makeTree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let loaded = ManifestLoader.load(paths: ["\(root)/notes.txt"], recursive: false)
        #expect(loaded.sources.map(\.path) == ["\(root)/notes.txt"])
    }

    @Test("a missing path is an error that names it, and other paths are still read")
    func missingPath() throws {
        let root = try makeTree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let loaded = ManifestLoader.load(paths: ["/nonexistent/vs.yaml", "\(root)/b.yaml"], recursive: false)
        #expect(Fixture.messages(loaded.diagnostics) == ["error: cannot read /nonexistent/vs.yaml: no such file or directory"])
        #expect(loaded.sources.map(\.path) == ["\(root)/b.yaml"])
    }

    @Test("a directory's manifest that is a symbolic link to nothing is an error naming both, as kubectl fails on it; a dangling link of another extension is passed over")
    func danglingLink() throws {
        let root = try makeTree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createSymbolicLink(atPath: "\(root)/e.yaml", withDestinationPath: "\(root)/gone.yaml")
        try FileManager.default.createSymbolicLink(atPath: "\(root)/f.txt", withDestinationPath: "\(root)/gone.txt")
        let loaded = ManifestLoader.load(paths: [root], recursive: false)
        #expect(
            Fixture.messages(loaded.diagnostics) == ["error: cannot read \(root)/e.yaml: a symbolic link to \(root)/gone.yaml, which does not exist"]
        )
        #expect(loaded.sources.map(\.path) == ["\(root)/a.yml", "\(root)/b.yaml", "\(root)/c.json"])
    }

    @Test("a directory's manifest whose name is not UTF-8 is an error naming it, not passed over")
    func nameNotUTF8() throws {
        let root = try makeTree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        // The bytes "d", 0xFF, ".yaml": a name Foundation cannot give back as a path.
        let name = Array("\(root)/d".utf8) + [0xFF] + Array(".yaml".utf8) + [0]
        let descriptor = name.withUnsafeBufferPointer { open(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), O_CREAT | O_WRONLY, 0o644) }
        #expect(descriptor >= 0)
        close(descriptor)
        let loaded = ManifestLoader.load(paths: [root], recursive: false)
        #expect(Fixture.messages(loaded.diagnostics) == ["error: cannot read \(root)/d\u{FFFD}.yaml: its name is not UTF-8 (rename it)"])
        #expect(loaded.sources.map(\.path) == ["\(root)/a.yml", "\(root)/b.yaml", "\(root)/c.json"])
    }

    @Test("why a file cannot be read is said in the system's words, not Foundation's error domain and number")
    func fileErrorText() throws {
        let root = try makeTree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directory = try #require(throws: CocoaError.self) { try String(contentsOfFile: root, encoding: .utf8) }
        #expect(FileErrorText.reason(directory) == "is a directory")
        let missing = try #require(throws: CocoaError.self) { try Data(contentsOf: URL(fileURLWithPath: "\(root)/none")) }
        #expect(FileErrorText.reason(missing) == "no such file or directory")
    }
}
