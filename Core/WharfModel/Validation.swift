// MARK: Not public

/// The field rules of the commerce model, shared by the value types' `validated()` and by `RecordCodec`.
/// Lengths count Unicode scalars, the unit every other system in the chain (SQL, JSON, XML) agrees on.
enum Rules {
    static func sku(_ sku: String, field: String = "sku") throws(FieldError) {
        var count = 0
        for scalar in sku.unicodeScalars {
            count += 1
            if scalar.value < 0x20 || (scalar.value >= 0x7F && scalar.value < 0xA0) {
                throw FieldError(
                    field: field,
                    reason: "\(field) '\(printable(sku))' contains a control character (U+\(hex(scalar.value))); remove it")
            }
            if scalar == "/" {
                throw FieldError(
                    field: field, reason: "\(field) '\(printable(sku))' contains '/', which SKUs may not (it would break URLs)")
            }
        }
        if count == 0 { throw FieldError(field: field, reason: "\(field) is empty; a SKU needs 1 to 64 characters") }
        if count > 64 {
            throw FieldError(field: field, reason: "\(field) must be 1 to 64 characters, got \(count)")
        }
    }

    static func length(_ value: String, field: String, max: Int) throws(FieldError) {
        var count = 0
        for _ in value.unicodeScalars { count += 1 }
        if count == 0 { throw FieldError(field: field, reason: "\(field) is empty; it needs 1 to \(max) characters") }
        if count > max { throw FieldError(field: field, reason: "\(field) must be 1 to \(max) characters, got \(count)") }
    }

    static func sourceCode(_ code: String, field: String) throws(FieldError) {
        var count = 0
        for b in code.utf8 {
            count += 1
            let ok = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == 0x2E || b == 0x5F || b == 0x2D
            if !ok {
                throw FieldError(
                    field: field,
                    reason: "\(field) '\(printable(code))' may only contain letters A-Z a-z, digits, '.', '_' and '-'")
            }
        }
        if count == 0 { throw FieldError(field: field, reason: "\(field) is empty; a source code needs 1 to 64 characters") }
        if count > 64 { throw FieldError(field: field, reason: "\(field) must be 1 to 64 characters, got \(count)") }
    }

    static func attributeName(_ name: String) throws(FieldError) {
        var count = 0
        for scalar in name.unicodeScalars {
            count += 1
            if scalar.value < 0x20 || scalar.value == 0x7F {
                throw FieldError(
                    field: "attr.\(name)",
                    reason: "attribute name '\(printable(name))' contains a control character (U+\(hex(scalar.value)))")
            }
        }
        if count == 0 { throw FieldError(field: "attr.", reason: "attribute name is empty; write the field as attr.<name>") }
        if count > 128 {
            throw FieldError(field: "attr.\(name)", reason: "attribute name must be 1 to 128 characters, got \(count)")
        }
    }

    /// Category codes: 1 to 128 characters, no control characters ("/" is allowed: PIM paths like "men/shirts").
    static func categoryCode(_ code: String, field: String) throws(FieldError) {
        var count = 0
        for scalar in code.unicodeScalars {
            count += 1
            if scalar.value < 0x20 || (scalar.value >= 0x7F && scalar.value < 0xA0) {
                throw FieldError(
                    field: field,
                    reason: "\(field) '\(printable(code))' contains a control character (U+\(hex(scalar.value))); remove it")
            }
        }
        if count == 0 { throw FieldError(field: field, reason: "\(field) is empty; a category code needs 1 to 128 characters") }
        if count > 128 { throw FieldError(field: field, reason: "\(field) must be 1 to 128 characters, got \(count)") }
    }

    /// `values` in order with every repeat after the first left out.
    static func withoutRepeats(_ values: [String]) -> [String] {
        if values.count < 2 { return values }
        var seen = Set<String>(minimumCapacity: values.count)
        return values.filter { seen.insert($0).inserted }
    }

    /// The longest media URL accepted, in characters (what browsers and CDNs reliably handle).
    static let maxMediaLength = 2048

    /// A media reference: a URL with a scheme ("https://cdn.example.com/a.jpg", "file:///srv/a.pdf") or a path
    /// ("/media/a.jpg", "images/a.jpg"). Spaces and control characters must be percent-encoded; backslashes are
    /// refused (paths use "/").
    static func mediaURL(_ url: String, field: String) throws(FieldError) {
        var count = 0
        var schemeEnd: Int?  // index of the first ":" before any "/", "?" or "#"
        var pathStarted = false
        var index = 0
        for scalar in url.unicodeScalars {
            count += 1
            let v = scalar.value
            if v <= 0x20 || v == 0x7F || (v >= 0x80 && v < 0xA0) || scalar.properties.isWhitespace {
                let what = v == 0x20 ? "a space" : "a control or space character (U+\(hex(v)))"
                throw FieldError(
                    field: field, reason: "\(field) '\(printable(url))' contains \(what); percent-encode it (a space is %20)")
            }
            if scalar == "\\" {
                throw FieldError(
                    field: field, reason: "\(field) '\(printable(url))' contains a backslash; URLs and paths use '/'")
            }
            if !pathStarted {
                if scalar == ":" {
                    schemeEnd = index
                    pathStarted = true
                } else if scalar == "/" || scalar == "?" || scalar == "#" {
                    pathStarted = true
                }
            }
            index += 1
        }
        if count == 0 { throw FieldError(field: field, reason: "\(field) is empty; give a URL like https://cdn.example.com/a.jpg") }
        if count > maxMediaLength {
            throw FieldError(field: field, reason: "\(field) must be at most \(maxMediaLength) characters, got \(count)")
        }
        let scalars = Array(url.unicodeScalars)
        guard let schemeEnd else {
            if url.lowercased().hasPrefix("www.") {
                throw FieldError(
                    field: field,
                    reason: "\(field) '\(printable(url))' has no scheme; write the full URL, like https://\(printable(url))")
            }
            return  // a path
        }
        let scheme = scalars[..<schemeEnd]
        func isLetter(_ s: Unicode.Scalar) -> Bool { (s >= "a" && s <= "z") || (s >= "A" && s <= "Z") }
        let validScheme = scheme.first.map(isLetter) == true
            && scheme.allSatisfy { isLetter($0) || ($0 >= "0" && $0 <= "9") || $0 == "+" || $0 == "-" || $0 == "." }
        guard validScheme else {
            throw FieldError(
                field: field,
                reason: "\(field) '\(printable(url))' does not start with a URL scheme (like https:) or a path (like /media/a.jpg)")
        }
        let rest = String(String.UnicodeScalarView(scalars[(schemeEnd + 1)...]))
        let lowerScheme = String(String.UnicodeScalarView(scheme)).lowercased()
        if lowerScheme == "http" || lowerScheme == "https" {
            guard rest.hasPrefix("//"), rest.utf8.count > 2, !rest.hasPrefix("///") else {
                throw FieldError(
                    field: field,
                    reason: "\(field) '\(printable(url))' has no host; write it like \(lowerScheme)://cdn.example.com/a.jpg")
            }
        } else if rest.isEmpty {
            throw FieldError(field: field, reason: "\(field) '\(printable(url))' has nothing after the scheme")
        }
    }

    /// Checks a BCP 47 language tag loosely (`[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*`) and returns it in conventional
    /// case: language lower ("de"), 4-letter script title ("Hant"), 2-letter region upper ("CH"), the rest lower.
    static func languageTag(_ tag: String, field: String) throws(FieldError) -> String {
        func bad() -> FieldError {
            FieldError(
                field: field,
                reason: "language '\(printable(tag))' is not a BCP 47 language tag; write it like de, en-GB or zh-Hant-TW")
        }
        var out: [UInt8] = []
        out.reserveCapacity(tag.utf8.count)
        var subtag: [UInt8] = []
        var subtagIndex = 0
        func flush() throws(FieldError) {
            let letters = subtag.allSatisfy { ($0 | 0x20) >= 0x61 && ($0 | 0x20) <= 0x7A }
            if subtagIndex == 0 {
                guard (2...8).contains(subtag.count), letters else { throw bad() }
            } else {
                guard (1...8).contains(subtag.count) else { throw bad() }
                out.append(UInt8(ascii: "-"))
            }
            for (i, b) in subtag.enumerated() {
                let isLetter = (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A
                let upper = isLetter && subtagIndex > 0 && letters && (subtag.count == 2 || (subtag.count == 4 && i == 0))
                out.append(isLetter ? (upper ? b & ~0x20 : b | 0x20) : b)
            }
            subtagIndex += 1
            subtag.removeAll(keepingCapacity: true)
        }
        for b in tag.utf8 {
            if b == UInt8(ascii: "-") {
                try flush()
            } else {
                let ok = ((b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A) || (b >= 0x30 && b <= 0x39)
                guard ok else { throw bad() }
                subtag.append(b)
            }
        }
        try flush()
        return String(decoding: out, as: UTF8.self)
    }

    /// A value as it can be shown inside quotes in a one-line message: control characters escaped, long values cut.
    static func printable(_ value: String) -> String {
        var out = ""
        var n = 0
        for scalar in value.unicodeScalars {
            n += 1
            if n > 80 {
                out += "…"
                break
            }
            if scalar.value < 0x20 || scalar.value == 0x7F { out += "\\u{\(hex(scalar.value))}" } else { out.unicodeScalars.append(scalar) }
        }
        return out
    }

    static func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16, uppercase: true)
        return s.count < 4 ? String(repeating: "0", count: 4 - s.count) + s : s
    }
}
