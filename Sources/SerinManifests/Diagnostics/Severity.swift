/// How bad a diagnostic is: errors stop an apply, warnings are printed and the apply goes on.
public enum Severity: String, Sendable {
    case error
    case warning
}
