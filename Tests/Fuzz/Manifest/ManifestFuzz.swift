import Foundation
import WharfManifest

// Fuzzes the manifest reader: the JSON5 parser (`JSONValue.parse(json5:)`) and the manifest checker
// (`Manifest.parse`, or `Manifest.load` for bytes that are not UTF-8).
//
// Besides "no crash, no sanitizer report", each input is checked for:
//  - JSON5 that parses writes out (`jsonText()`) as JSON that parses back to the same value and that Foundation's
//    `JSONSerialization` reads too;
//  - the manifest reader and the JSON5 parser agree on syntax (a syntax error is reported by both, at the same line
//    and column);
//  - a refused manifest explains itself: at least one issue, one line per issue, each starting with the file name.

private let manifestPath = "/srv/wharf/wharf.json5"

private func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("manifest reader property violated: \(message())") }
}

/// Whether `value` holds a number that `jsonText()` cannot write exactly (NaN and the infinities become `null`).
private func hasNonFinite(_ value: JSONValue) -> Bool {
    switch value {
    case .double(let number): return !number.isFinite
    case .array(let items): return items.contains(where: hasNonFinite)
    case .object(let object): return object.contains { hasNonFinite($0.value) }
    default: return false
    }
}

private func checkExplains(_ error: ManifestError) {
    check(!error.issues.isEmpty, "an error without issues")
    // Lines as a terminal or a log shows them: split at every line-breaking scalar, CR LF included.
    let lines = error.description.unicodeScalars.split(omittingEmptySubsequences: false) {
        $0 == "\n" || $0 == "\r" || $0 == "\u{0B}" || $0 == "\u{0C}" || $0 == "\u{85}" || $0 == "\u{2028}" || $0 == "\u{2029}"
    }.map { String(String.UnicodeScalarView($0)) }
    check(lines.count == error.issues.count, "\(error.issues.count) issues printed on \(lines.count) lines: \(error.description)")
    for line in lines { check(line.hasPrefix("\(error.file): "), "an issue line without the file name: \(line)") }
}

/// Where inputs that are not UTF-8 are written so `Manifest.load` reads them from a file, as `wharf` does.
private let scratchFile: String = {
    let folder = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    return "\(folder)/wharf-fuzz-manifest-\(getpid()).json5"
}()

/// libFuzzer's entry point: one input.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzManifest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    guard let text = String(validating: bytes, as: UTF8.self) else {
        // Not UTF-8: the file reader must refuse it with a message, never crash.
        _ = FileManager.default.createFile(atPath: scratchFile, contents: Data(bytes))
        defer { try? FileManager.default.removeItem(atPath: scratchFile) }
        do {
            _ = try Manifest.load(path: scratchFile)
            fatalError("manifest reader property violated: bytes that are not UTF-8 were accepted")
        } catch {
            checkExplains(error)
        }
        return 0
    }

    var syntaxError: JSONSyntaxError?
    do {
        let value = try JSONValue.parse(json5: text)
        if !hasNonFinite(value) {
            let written = value.jsonText()
            do {
                let reread = try JSONValue.parse(json5: written)
                check(reread == value, "jsonText() read back differently: \(written)")
                check(reread.jsonText() == written, "jsonText() is not stable: \(written)")
                // And it is plain JSON that other readers take too.
                check(
                    (try? JSONSerialization.jsonObject(with: Data(written.utf8), options: .fragmentsAllowed)) != nil,
                    "jsonText() is not JSON to JSONSerialization: \(written)")
            } catch {
                fatalError("manifest reader property violated: jsonText() wrote JSON it cannot read (\(error)): \(written)")
            }
        }
    } catch {
        syntaxError = error
    }

    do {
        let manifest = try Manifest.parse(text, filePath: manifestPath)
        check(syntaxError == nil, "a manifest was accepted although its JSON5 is invalid: \(syntaxError!)")
        check(!manifest.database.isEmpty, "an accepted manifest without a database")
        for connector in manifest.connectors {
            check(manifest.connector(named: connector.name)?.index == connector.index, "connector names are not unique")
        }
    } catch {
        checkExplains(error)
        let syntaxIssues = error.issues.filter { $0.kind == .syntax }
        if let syntaxError, !syntaxError.message.contains("appears twice") {
            check(syntaxIssues.count == 1, "JSON5 error \(syntaxError) but the manifest reader said: \(error)")
            check(
                syntaxIssues[0].line == syntaxError.line && syntaxIssues[0].column == syntaxError.column,
                "JSON5 error at \(syntaxError.line):\(syntaxError.column), manifest issue at \(String(describing: syntaxIssues[0].line)):\(String(describing: syntaxIssues[0].column))")
        } else {
            check(syntaxIssues.isEmpty, "valid JSON5 but a syntax issue: \(error)")
        }
    }
    return 0
}
