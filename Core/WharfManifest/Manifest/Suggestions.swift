// MARK: Not public

/// The known word closest to `word` when it is close enough to be a likely typo, else nil.
///
/// Distance is the optimal-string-alignment edit distance (insert, delete, replace, swap two neighbours), ignoring
/// case; "close enough" is at most one edit per three letters of the known word (and at least one). A word of three
/// or more letters that starts a known word (`warn` for `warning`) also matches.
func closestMatch(to word: String, in candidates: [String]) -> String? {
    let w = Array(word.lowercased().unicodeScalars)
    var best: (candidate: String, distance: Int)?
    for candidate in candidates {
        let c = Array(candidate.lowercased().unicodeScalars)
        let distance = editDistance(w, c)
        let limit = max(1, c.count / 3)
        let isPrefix = w.count >= 3 && c.count > w.count && Array(c.prefix(w.count)) == w
        let score = isPrefix ? min(distance, limit) : distance
        if score <= limit, score < (best?.distance ?? .max) { best = (candidate, score) }
    }
    return best?.candidate
}

func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous2 = [Int](repeating: 0, count: b.count + 1)
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                current[j] = min(current[j], previous2[j - 2] + 1)
            }
        }
        (previous2, previous, current) = (previous, current, previous2)
    }
    return previous[b.count]
}
