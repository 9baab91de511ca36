import Foundation
import Testing

/// The test bundle itself: `swift test` on a small machine must not start every test at once (CTestWidth).
@Suite("The test bundle")
struct TestBundleTests {
    @Test("runs a bounded number of tests at once (four per core unless SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH says)")
    func boundedWidth() {
        let width = ProcessInfo.processInfo.environment["SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH"].flatMap { Int($0) }
        #expect(width != nil, "CTestWidth's constructor did not run: every test would start at once")
        #expect((width ?? 0) > 0)
    }
}
