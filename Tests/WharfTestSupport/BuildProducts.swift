import Foundation

/// Where the package's built products (the `wharf` binary, plugin `.so` files) are, for tests that use the real ones.
///
/// Tests run from `<scratch>/<config>/WharfPackageTests.xctest`, next to every product the same build made, so the
/// folder of the running test binary is the product folder, whatever `--scratch-path` or configuration was used.
public enum BuildProducts {
    /// The folder holding the built products.
    public static var directory: URL {
        if let override = ProcessInfo.processInfo.environment["WHARF_BUILD_PRODUCTS"] {
            return URL(fileURLWithPath: override)
        }
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        // On Linux the test binary is `<products>/WharfPackageTests.xctest` (a file, not a bundle).
        var dir = exe.deletingLastPathComponent()
        if dir.lastPathComponent.hasSuffix(".xctest") { dir = dir.deletingLastPathComponent() }
        return dir
    }

    /// The `wharf` executable.
    public static var wharf: URL { directory.appendingPathComponent("wharf") }

    /// A plugin library by product name: `plugin("wharf-stock-csv")` is `<products>/libwharf-stock-csv.so`.
    public static func plugin(_ productName: String) -> URL {
        directory.appendingPathComponent("lib\(productName).so")
    }

    /// The package's root folder (for manifests, samples and scripts).
    public static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The shared samples folder beside the package (`../shared/samples`), when present.
    public static var sharedSamples: URL {
        packageRoot.deletingLastPathComponent().appendingPathComponent("shared/samples")
    }
}

/// A fresh folder under the system temporary folder, removed when the value is released.
public final class TemporaryDirectory: @unchecked Sendable {
    /// The folder.
    public let url: URL
    /// The folder's path.
    public var path: String { url.path }

    /// Creates a new empty folder whose name starts with `prefix`.
    public init(prefix: String = "wharf-test") {
        let base = URL(fileURLWithPath: NSTemporaryDirectory())
        url = base.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// A path inside the folder.
    public func file(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Writes `text` to a file inside the folder and returns its path.
    @discardableResult
    public func write(_ name: String, _ text: String) -> String {
        let path = file(name)
        try! FileManager.default.createDirectory(
            at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
        // Not `atomically`: on Linux that leaves an empty /tmp/TemporaryDirectory.* folder behind for every write.
        try! Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}
