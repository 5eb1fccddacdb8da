/// A command line mistake: the message is printed with the command's usage and the process exits with 2.
struct UsageError: Error {
    var message: String
}

/// The words of a command line after the command name: positionals, `--name value` options and `--flag` flags.
struct Arguments {
    var positionals: [String] = []
    var options: [String: String] = [:]
    var flags: Set<String> = []

    /// Splits `words`, knowing which options take a value and which are flags; anything else is a usage error.
    init(_ words: [String], valueOptions: Set<String> = [], flagOptions: Set<String> = []) throws(UsageError) {
        var index = 0
        while index < words.count {
            let word = words[index]
            if word == "--" {
                positionals.append(contentsOf: words[(index + 1)...])
                break
            }
            if word.hasPrefix("--") || (word.hasPrefix("-") && word.count == 2) {
                var name = word
                var inlineValue: String?
                if let equals = word.firstIndex(of: "=") {
                    name = String(word[..<equals])
                    inlineValue = String(word[word.index(after: equals)...])
                }
                if valueOptions.contains(name) {
                    if let inlineValue {
                        options[name] = inlineValue
                    } else {
                        guard index + 1 < words.count else { throw UsageError(message: "\(name) needs a value") }
                        options[name] = words[index + 1]
                        index += 1
                    }
                } else if flagOptions.contains(name), inlineValue == nil {
                    flags.insert(name)
                } else {
                    throw UsageError(message: "unknown option \(name)")
                }
            } else {
                positionals.append(word)
            }
            index += 1
        }
    }

    /// The single positional argument `what`, or a usage error.
    func single(_ what: String) throws(UsageError) -> String {
        guard positionals.count == 1 else {
            throw UsageError(message: positionals.isEmpty ? "missing \(what)" : "expected one \(what), got \(positionals.count) arguments")
        }
        return positionals[0]
    }

    /// No positional arguments allowed.
    func none() throws(UsageError) {
        if let first = positionals.first { throw UsageError(message: "unexpected argument '\(first)'") }
    }
}
