import Foundation
import WharfPlugins
import WharfTestSupport
import XCTest

/// Installing, listing, upgrading and removing plugins in a real folder.
final class PluginFolderTests: XCTestCase {
    private func productPath(_ product: String) throws -> String {
        let path = BuildProducts.plugin(product).path
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("\(path) is not built") }
        return path
    }

    func testInstallCopiesTheLibraryUnderItsIDAndCreatesTheFolder() throws {
        let temporary = TemporaryDirectory()
        let folder = PluginFolder(path: temporary.file("nested/plugins"))
        let info = try folder.install(from: productPath("wharf-stock-csv"), replace: false, host: recordingHost)
        XCTAssertEqual(info.id, "stock-csv")
        XCTAssertEqual(info.path, "\(folder.path)/stock-csv.so")
        XCTAssertEqual(folder.path(forID: "stock-csv"), info.path)
        XCTAssertNil(folder.path(forID: "catalog-file"))
        XCTAssertNil(folder.path(forID: "../etc"))
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        XCTAssertEqual(names, ["stock-csv.so"], "no temporary file may stay behind")
        let original = try Data(contentsOf: URL(fileURLWithPath: productPath("wharf-stock-csv")))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: info.path)), original)
    }

    func testListLoadsEveryInstalledPlugin() throws {
        let temporary = TemporaryDirectory()
        let folder = PluginFolder(path: temporary.path)
        try folder.install(from: productPath("wharf-catalog-file"), replace: false, host: recordingHost)
        try folder.install(from: productPath("wharf-stock-csv"), replace: false, host: recordingHost)
        let listing = folder.list(host: recordingHost)
        XCTAssertEqual(listing.problems.map(\.message), [])
        XCTAssertEqual(listing.plugins.map(\.id), ["catalog-file", "stock-csv"])
        XCTAssertEqual(listing.plugins.map(\.path), ["\(temporary.path)/catalog-file.so", "\(temporary.path)/stock-csv.so"])
    }

    func testListReportsBrokenAndMisnamedLibrariesInsteadOfFailing() throws {
        let temporary = TemporaryDirectory()
        let folder = PluginFolder(path: temporary.path)
        try folder.install(from: productPath("wharf-stock-csv"), replace: false, host: recordingHost)
        temporary.write("notes.so", "not a library")
        try FileManager.default.copyItem(
            atPath: productPath("wharf-fixture-refuses"), toPath: temporary.file("refuses.so"))
        try FileManager.default.copyItem(
            atPath: productPath("wharf-stock-csv"), toPath: temporary.file("csv.so"))
        temporary.write("README.txt", "ignored: not a .so")
        let listing = folder.list(host: recordingHost)
        XCTAssertEqual(listing.plugins.map(\.id), ["stock-csv"])
        XCTAssertEqual(listing.problems.map(\.code), [.misnamed, .notELF, .entryRefused])
        XCTAssertEqual(listing.problems.map(\.path), [
            temporary.file("csv.so"), temporary.file("notes.so"), temporary.file("refuses.so"),
        ])
        XCTAssertTrue(listing.problems[0].message.contains("rename it"), listing.problems[0].message)
    }

    func testListOfMissingFolderIsEmpty() {
        let listing = PluginFolder(path: "/nonexistent/wharf-plugins").list(host: recordingHost)
        XCTAssertTrue(listing.plugins.isEmpty)
        XCTAssertTrue(listing.problems.isEmpty)
    }

    func testDuplicateIDIsRefusedWithoutReplace() throws {
        let temporary = TemporaryDirectory()
        let folder = PluginFolder(path: temporary.path)
        try folder.install(from: productPath("wharf-stock-csv"), replace: false, host: recordingHost)
        let duplicate = try productPath("wharf-fixture-duplicate-id")
        do throws(PluginLoadError) {
            try folder.install(from: duplicate, replace: false, host: recordingHost)
            XCTFail("a second stock-csv was installed")
        } catch {
            XCTAssertEqual(error.code, .duplicateID)
            XCTAssertTrue(error.message.contains("\"stock-csv\" is already installed"), error.message)
            XCTAssertTrue(error.message.contains("replace"), error.message)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: temporary.path), ["stock-csv.so"])
        let installed = try Data(contentsOf: URL(fileURLWithPath: temporary.file("stock-csv.so")))
        XCTAssertEqual(installed, try Data(contentsOf: URL(fileURLWithPath: productPath("wharf-stock-csv"))))
    }

    func testReplaceUpgradesTheSameID() throws {
        let temporary = TemporaryDirectory()
        let folder = PluginFolder(path: temporary.path)
        try folder.install(from: productPath("wharf-stock-csv"), replace: false, host: recordingHost)
        let installedBefore = try FileManager.default.attributesOfItem(atPath: temporary.file("stock-csv.so"))
        let upgraded = try folder.install(
            from: productPath("wharf-fixture-duplicate-id"), replace: true, host: recordingHost)
        XCTAssertEqual(upgraded.version, "9.9.9")
        XCTAssertEqual(upgraded.path, temporary.file("stock-csv.so"))
        let installedAfter = try FileManager.default.attributesOfItem(atPath: temporary.file("stock-csv.so"))
        // A new inode: the old file (maybe mapped by a running process) was replaced by rename, not rewritten.
        XCTAssertNotEqual(
            installedBefore[.systemFileNumber] as? UInt64, installedAfter[.systemFileNumber] as? UInt64)
        let listing = folder.list(host: recordingHost)
        XCTAssertEqual(listing.plugins.map(\.version), ["9.9.9"])
    }

    func testBrokenLibraryIsNotInstalled() throws {
        let temporary = TemporaryDirectory()
        let folder = PluginFolder(path: temporary.file("plugins"))
        XCTAssertThrowsError(
            try folder.install(from: productPath("wharf-fixture-bad-id"), replace: false, host: recordingHost)
        ) { error in
            XCTAssertEqual((error as? PluginLoadError)?.code, .invalidID)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.path), "nothing is created for a refused plugin")
    }

    func testRemove() throws {
        let temporary = TemporaryDirectory()
        let folder = PluginFolder(path: temporary.path)
        try folder.install(from: productPath("wharf-stock-csv"), replace: false, host: recordingHost)
        try folder.remove(id: "stock-csv")
        XCTAssertNil(folder.path(forID: "stock-csv"))
        XCTAssertEqual(folder.list(host: recordingHost).plugins, [])
        do throws(PluginLoadError) {
            try folder.remove(id: "stock-csv")
            XCTFail("removed twice")
        } catch {
            XCTAssertEqual(error.code, .notInstalled)
            XCTAssertTrue(error.message.contains("no plugin \"stock-csv\" is installed in \(temporary.path)"), error.message)
        }
        XCTAssertThrowsError(try folder.remove(id: "../../etc/passwd")) { error in
            XCTAssertEqual((error as? PluginLoadError)?.code, .invalidID)
        }
    }
}
