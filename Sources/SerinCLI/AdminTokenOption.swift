import ArgumentParser
import Foundation
import SerinManifests
import SerinSystem

/// `--admin-token-file PATH` or `SERIN_ADMIN_TOKEN`: the admin API's bearer token, read the same way by
/// the server that demands it and the commands that send it.
struct AdminTokenOption: ParsableArguments {
    static let environmentVariable = "SERIN_ADMIN_TOKEN"

    @Option(help: ArgumentHelp(
        "A file holding the admin API's bearer token (its first line); SERIN_ADMIN_TOKEN is read when this is not given.",
        valueName: "path"
    ))
    var adminTokenFile: String?

    /// Why no token could be read from where the user pointed.
    struct Unreadable: Error, CustomStringConvertible {
        let description: String
    }

    /// The token from the file when one is named, else from `SERIN_ADMIN_TOKEN`; nil when neither is set.
    func resolve() throws(Unreadable) -> String? {
        guard let path = adminTokenFile else {
            let value = ProcessInfo.processInfo.environment[Self.environmentVariable]?.trimmingCharacters(in: .whitespacesAndNewlines)
            return value?.isEmpty == false ? value : nil
        }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw Unreadable(description: "cannot read --admin-token-file \(path): \(FileErrorText.reason(error))")
        }
        let token = text.split(whereSeparator: \.isNewline).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        if token.isEmpty { throw Unreadable(description: "--admin-token-file \(path) is empty; expected the token on its first line") }
        return token
    }
}
