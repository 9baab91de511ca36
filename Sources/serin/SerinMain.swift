import ArgumentParser
import SerinCLI

/// The `serin` executable: everything lives in SerinCLI so tests can reach it.
@main
struct SerinMain {
    static func main() async {
        await SerinCommand.main()
    }
}
