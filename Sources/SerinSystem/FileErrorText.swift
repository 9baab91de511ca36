import Foundation

/// Why a file could not be read, in the system's words ("no such file or directory", "is a directory"): Foundation's
/// own text for the same failure is "The operation could not be completed. (NSCocoaErrorDomain error 256.)".
public enum FileErrorText {
    public static func reason(_ error: any Error) -> String {
        guard let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? any Error,
            (underlying as NSError).domain == NSPOSIXErrorDomain
        else {
            return error.localizedDescription
        }
        return String(cString: strerror(Int32((underlying as NSError).code))).lowercased()
    }
}
