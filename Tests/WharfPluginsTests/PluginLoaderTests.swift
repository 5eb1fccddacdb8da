import Foundation
import WharfABI
import WharfPlugins
import WharfTestSupport
import XCTest

/// Loads the real plugins and every broken fixture, and checks each refusal's code and message.
final class PluginLoaderTests: XCTestCase {
    private func productPath(_ product: String) throws -> String {
        let path = BuildProducts.plugin(product).path
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("\(path) is not built; run swift build first")
        }
        return path
    }

    /// Asserts that loading `path` fails with `code` and a message containing every one of `words`.
    private func assertRefused(
        _ path: String, _ code: PluginLoadError.Code, _ words: [String], file: StaticString = #filePath, line: UInt = #line
    ) {
        do throws(PluginLoadError) {
            let plugin = try PluginLoader.load(path: path, host: recordingHost)
            XCTFail("\(path) loaded as \(plugin.info.id), expected \(code)", file: file, line: line)
        } catch {
            XCTAssertEqual(error.code, code, error.message, file: file, line: line)
            XCTAssertEqual(error.path, path, file: file, line: line)
            XCTAssertFalse(error.message.contains("\n"), "one line: \(error.message)", file: file, line: line)
            for word in words {
                XCTAssertTrue(error.message.contains(word), "\"\(word)\" missing from: \(error.message)", file: file, line: line)
            }
        }
    }

    // MARK: The real plugins

    func testLoadsStockCSVPluginWrittenInC() throws {
        let path = try productPath("wharf-stock-csv")
        let plugin = try PluginLoader.load(path: path, host: recordingHost)
        XCTAssertEqual(plugin.info.id, "stock-csv")
        XCTAssertEqual(plugin.info.systemKind, "erp")
        XCTAssertEqual(plugin.info.version, "1.0.0")
        XCTAssertEqual(plugin.info.description, "Stock levels per source from a CSV file")
        XCTAssertEqual(plugin.info.abiMajor, 1)
        XCTAssertEqual(plugin.info.abiMinor, Int(WHARF_ABI_MINOR), "the C plugin is built against this header")
        XCTAssertEqual(plugin.info.capabilities, [.ingest])
        XCTAssertEqual(plugin.info.capabilities.names, ["ingest"])
        XCTAssertEqual(plugin.info.path, path)
        XCTAssertNotNil(plugin.descriptor.pointee.create)
        XCTAssertNil(plugin.descriptor.pointee.export_data)
    }

    func testLoadsCatalogFilePluginWrittenInSwift() throws {
        let path = try productPath("wharf-catalog-file")
        let plugin = try PluginLoader.load(path: path, host: recordingHost)
        XCTAssertEqual(plugin.info.id, "catalog-file")
        XCTAssertEqual(plugin.info.systemKind, "pim")
        XCTAssertEqual(plugin.info.version, "1.0.0")
        XCTAssertEqual(plugin.info.description, "Products and base prices from a JSON Lines file")
        XCTAssertEqual(plugin.info.abiMajor, 1)
        XCTAssertEqual(plugin.info.capabilities, [.ingest])
        XCTAssertEqual(Int(plugin.descriptor.pointee.struct_size), MemoryLayout<wharf_plugin_descriptor>.size)
    }

    func testSecondLoadReusesTheFirstWithoutCallingTheEntryAgain() throws {
        let path = try productPath("wharf-stock-csv")
        let first = try PluginLoader.load(path: path, host: recordingHost)
        // Through a symlink: same file, so the same descriptor (the cache is keyed by resolved path).
        let folder = TemporaryDirectory()
        let link = folder.file("alias.so")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: path)
        let second = try PluginLoader.load(path: link, host: recordingHost)
        XCTAssertEqual(first.descriptor, second.descriptor)
        XCTAssertEqual(second.info.path, link)
        XCTAssertEqual(second.info.id, "stock-csv")
    }

    // MARK: Fixtures (refused after dlopen)

    func testLibraryWithoutEntryIsRefused() throws {
        let path = try productPath("wharf-fixture-no-entry")
        assertRefused(path, .missingEntry, [path, "does not export wharf_plugin_entry", "@_cdecl(\"wharf_plugin_entry\")", "plain C function"])
    }

    func testOtherABIMajorIsRefusedNamingBothVersions() throws {
        let path = try productPath("wharf-fixture-abi-major")
        assertRefused(path, .abiMajorMismatch, [path, "abi_major is 99", "ABI 99.\(WHARF_ABI_MINOR)", "host speaks ABI 1.\(WHARF_ABI_MINOR)", "rebuild"])
    }

    func testDescriptorBelowMinimumSizeIsRefused() throws {
        let path = try productPath("wharf-fixture-small-descriptor")
        let minimum = MemoryLayout<wharf_plugin_descriptor>.size
        assertRefused(path, .descriptorTooSmall, [path, "descriptor is 16 bytes, at least \(minimum) expected", "rebuild against wharf_plugin.h ABI 1.x"])
    }

    func testInvalidIDIsRefusedWithTheRule() throws {
        let path = try productPath("wharf-fixture-bad-id")
        assertRefused(path, .invalidID, [path, "\"Bad ID!\"", "a-z, 0-9 and '-'", "starting with a letter"])
    }

    func testEntryReturningNullIsRefused() throws {
        let path = try productPath("wharf-fixture-refuses")
        assertRefused(path, .entryRefused, [path, "plugin refused host ABI 1.\(WHARF_ABI_MINOR)"])
    }

    func testCapabilityWithoutOperationIsRefused() throws {
        let path = try productPath("wharf-fixture-missing-operation")
        assertRefused(path, .missingOperation, [path, "WHARF_CAP_INGEST", "ingest function is NULL"])
    }

    func testFixtureWithDuplicateIDLoadsOnItsOwn() throws {
        let plugin = try PluginLoader.load(path: try productPath("wharf-fixture-duplicate-id"), host: recordingHost)
        XCTAssertEqual(plugin.info.id, "stock-csv")
        XCTAssertEqual(plugin.info.version, "9.9.9")
        XCTAssertEqual(plugin.info.systemKind, "other")
    }

    func testRefusalAfterTheEntryRanIsRemembered() throws {
        let path = try productPath("wharf-fixture-bad-id")
        assertRefused(path, .invalidID, ["Bad ID!"])
        assertRefused(path, .invalidID, ["Bad ID!"])
    }

    // MARK: Refused before dlopen

    func testMissingPath() {
        let path = "/nonexistent/wharf/plugin.so"
        assertRefused(path, .fileNotFound, ["no file at \(path)"])
    }

    func testDirectory() {
        let folder = TemporaryDirectory()
        assertRefused(folder.path, .notRegularFile, [folder.path, "is a directory", ".so"])
    }

    func testTextFile() {
        let folder = TemporaryDirectory()
        let path = folder.write("notes.so", "this is not a library\n")
        assertRefused(path, .notELF, ["\(path) is not a shared library (no ELF header); pass the .so built for the plugin"])
    }

    func testEmptyFile() {
        let folder = TemporaryDirectory()
        let path = folder.write("empty.so", "")
        assertRefused(path, .notELF, ["no ELF header"])
    }

    func testExecutableProgram() throws {
        let path = "/bin/true"
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("no /bin/true") }
        assertRefused(path, .notSharedObject, [path, "executable program", "not a shared library"])
    }

    func testLibraryBuiltForAnotherMachine() throws {
        let folder = TemporaryDirectory()
        let path = folder.file("aarch64.so")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: productPath("wharf-stock-csv")))
        #if arch(arm64)
        let (machine, other, host) = (UInt16(62), "x86_64", "aarch64")
        #else
        let (machine, other, host) = (UInt16(183), "aarch64", "x86_64")
        #endif
        bytes[18] = UInt8(machine & 0xFF)
        bytes[19] = UInt8(machine >> 8)
        try bytes.write(to: URL(fileURLWithPath: path))
        assertRefused(path, .wrongMachine, ["\(path) is built for \(other) but this host is \(host); build the plugin for \(host)"])
    }

    func testLibraryWithOtherELFClass() throws {
        let folder = TemporaryDirectory()
        let path = folder.file("32bit.so")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: productPath("wharf-stock-csv")))
        bytes[4] = 1  // ELFCLASS32
        try bytes.write(to: URL(fileURLWithPath: path))
        assertRefused(path, .wrongClass, [path, "32-bit ELF file", "this host is 64-bit", "build the plugin for 64-bit"])
    }

    func testLibraryWithOtherByteOrder() throws {
        let folder = TemporaryDirectory()
        let path = folder.file("big-endian.so")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: productPath("wharf-stock-csv")))
        bytes[5] = 2  // ELFDATA2MSB
        try bytes.write(to: URL(fileURLWithPath: path))
        assertRefused(path, .wrongByteOrder, [path, "big-endian"])
    }

    func testObjectFileIsNotASharedLibrary() throws {
        let folder = TemporaryDirectory()
        let path = folder.file("object.so")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: productPath("wharf-stock-csv")))
        bytes[16] = 1  // ET_REL
        bytes[17] = 0
        try bytes.write(to: URL(fileURLWithPath: path))
        assertRefused(path, .notSharedObject, [path, "object file", "not a shared library"])
    }

    func testTruncatedLibraryIsRefusedBeforeDlopen() throws {
        // dlopen of a truncated file can die with SIGBUS, so the loader must catch this from the headers.
        let folder = TemporaryDirectory()
        let path = folder.file("truncated.so")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: productPath("wharf-stock-csv")))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
        assertRefused(path, .truncated, ["\(path) is truncated (\(bytes.count / 2) bytes", "copy or build the plugin again"])
    }

    func testDlopenFailureCarriesItsReason() throws {
        // A valid header whose dynamic section names a library that does not exist: only dlopen can find that.
        let folder = TemporaryDirectory()
        let path = folder.file("needs-missing.so")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: productPath("wharf-stock-csv")))
        guard let range = bytes.range(of: Data("libc.so.6".utf8)) else { throw XCTSkip("no libc.so.6 NEEDED entry") }
        bytes.replaceSubrange(range, with: Data("libq.so.6".utf8))
        try bytes.write(to: URL(fileURLWithPath: path))
        assertRefused(path, .dlopenFailed, ["cannot load \(path): ", "libq.so.6", "library path"])
    }
}
