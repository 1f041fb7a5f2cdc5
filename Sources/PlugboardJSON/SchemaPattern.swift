/// The regular expressions of the `pattern` keyword, matched in time linear in the input.
///
/// Patterns come from manifests and are matched against what clients send, so a backtracking
/// engine is a denial of service: Swift's `Regex` took over 20 s for `^(a+)+$` against 20
/// characters, and 3 s for `a*b` against 10,000. This is a Thompson NFA run as a Pike VM (every
/// state advanced in step over the input): the work is at most input length × program size.
///
/// The syntax is the ECMA-262 subset schemas use: literals and escapes, `.`, classes with ranges
/// and negation, `\d \w \s` and their negations, `^ $`, groups (`(...)`, `(?:...)`, `(?<name>...)`),
/// `|`, and the quantifiers `* + ? {n} {n,} {n,m}` (lazy forms match the same strings).
/// Backreferences, lookaround and word boundaries need backtracking and are refused at load.
public struct SchemaPattern: Sendable {
    public let source: String
    private let program: [Instruction]
    private let sets: [ScalarSet]

    /// Instructions a pattern may compile to (counted repetition copies its operand).
    static let maximumSize = 10_000

    public init(_ source: String) throws(JSONSchemaError) {
        self.source = source
        var parser = PatternParser(Array(source.unicodeScalars))
        let tree: PatternNode
        do {
            tree = try parser.parse()
        } catch {
            throw JSONSchemaError(location: "pattern", reason: "\(error.reason) in the regular expression \(source)")
        }
        var compiler = PatternCompiler()
        compiler.emit(tree)
        compiler.program.append(.match)
        guard compiler.program.count <= Self.maximumSize else {
            throw JSONSchemaError(
                location: "pattern", reason: "the regular expression \(source) is too large once its {n,m} repetitions are counted out")
        }
        self.program = compiler.program
        self.sets = compiler.sets
    }

    /// True when the pattern matches somewhere in `text` (JSON Schema patterns are not anchored).
    public func matches(_ text: String) -> Bool {
        run(text).matched
    }

    /// The match, and the VM steps it took (for tests of the linear bound).
    func run(_ text: String) -> (matched: Bool, steps: Int) {
        let input = Array(text.unicodeScalars)
        var current: [Int] = []
        var next: [Int] = []
        var seen = [Int](repeating: -1, count: program.count)
        var steps = 0

        // Adds `pc` and everything reachable from it without consuming input; true on a match.
        func add(_ pc: Int, at position: Int, to list: inout [Int]) -> Bool {
            var stack = [pc]
            while let pc = stack.popLast() {
                steps += 1
                guard seen[pc] != position else { continue }
                seen[pc] = position
                switch program[pc] {
                case .match: return true
                case .jump(let target): stack.append(target)
                case .split(let first, let second): stack.append(contentsOf: [second, first])
                case .start: if position == 0 { stack.append(pc + 1) }
                case .end: if position == input.count { stack.append(pc + 1) }
                case .consume: list.append(pc)
                }
            }
            return false
        }

        for position in 0...input.count {
            // Every position may start a match: the search is unanchored.
            if add(0, at: position, to: &current) { return (true, steps) }
            guard position < input.count else { break }
            let scalar = input[position]
            next.removeAll(keepingCapacity: true)
            for pc in current {
                steps += 1
                guard case .consume(let set) = program[pc], sets[set].contains(scalar) else { continue }
                if add(pc + 1, at: position + 1, to: &next) { return (true, steps) }
            }
            swap(&current, &next)
        }
        return (false, steps)
    }
}

private enum Instruction: Sendable {
    case consume(Int)
    case split(Int, Int)
    case jump(Int)
    case start
    case end
    case match
}

/// The scalars one step of a pattern accepts.
struct ScalarSet: Sendable {
    var ranges: [ClosedRange<UInt32>] = []
    /// Negated shorthands in a class (`[\s\S]`): a scalar in any of them is in the set too.
    var negatedParts: [ScalarSet] = []
    var negated = false

    func contains(_ scalar: Unicode.Scalar) -> Bool {
        (ranges.contains { $0.contains(scalar.value) } || negatedParts.contains { $0.contains(scalar) }) != negated
    }

    static func of(_ scalar: Unicode.Scalar) -> ScalarSet { ScalarSet(ranges: [scalar.value...scalar.value]) }
    static let digit = ScalarSet(ranges: [0x30...0x39])
    static let word = ScalarSet(ranges: [0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A])
    static let space = ScalarSet(ranges: [
        0x09...0x0D, 0x20...0x20, 0xA0...0xA0, 0x1680...0x1680, 0x2000...0x200A, 0x2028...0x2029, 0x202F...0x202F, 0x205F...0x205F,
        0x3000...0x3000, 0xFEFF...0xFEFF,
    ])
    /// `.`: anything but a line terminator.
    static let dot = ScalarSet(ranges: [0x0A...0x0A, 0x0D...0x0D, 0x2028...0x2029], negated: true)

    var inverted: ScalarSet { ScalarSet(ranges: ranges, negated: !negated) }
}

private indirect enum PatternNode {
    case set(ScalarSet)
    case start
    case end
    case sequence([PatternNode])
    case alternatives([PatternNode])
    case repeated(PatternNode, min: Int, max: Int?)
}

private struct PatternParser {
    struct Failure: Error {
        let reason: String
    }

    let scalars: [Unicode.Scalar]
    var index = 0

    init(_ scalars: [Unicode.Scalar]) {
        self.scalars = scalars
    }

    var peek: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

    mutating func parse() throws(Failure) -> PatternNode {
        let node = try alternatives()
        if peek == ")" { throw Failure(reason: "an unmatched ')' at position \(index)") }
        return node
    }

    mutating func alternatives() throws(Failure) -> PatternNode {
        var branches = [try sequence()]
        while peek == "|" {
            index += 1
            branches.append(try sequence())
        }
        return branches.count == 1 ? branches[0] : .alternatives(branches)
    }

    mutating func sequence() throws(Failure) -> PatternNode {
        var items: [PatternNode] = []
        while let scalar = peek, scalar != "|", scalar != ")" {
            var item = try atom()
            while let (min, max) = try quantifier() {
                if case .repeated = item { throw Failure(reason: "a quantifier follows another at position \(index)") }
                item = .repeated(item, min: min, max: max)
            }
            items.append(item)
        }
        return .sequence(items)
    }

    mutating func quantifier() throws(Failure) -> (Int, Int?)? {
        let bounds: (Int, Int?)
        switch peek {
        case "*": bounds = (0, nil)
        case "+": bounds = (1, nil)
        case "?": bounds = (0, 1)
        case "{":
            guard let counted = countedBounds() else { return nil }  // a literal '{', as ECMA-262 allows
            bounds = counted
            if let max = bounds.1, max < bounds.0 { throw Failure(reason: "{\(bounds.0),\(max)} counts down") }
            if index < scalars.count, scalars[index] == "?" { index += 1 }
            return bounds
        default: return nil
        }
        index += 1
        if peek == "?" { index += 1 }  // lazy: the same strings match
        return bounds
    }

    /// `{n}`, `{n,}` or `{n,m}` at the current position, consumed; nil (nothing consumed) otherwise.
    mutating func countedBounds() -> (Int, Int?)? {
        var cursor = index + 1
        func number() -> Int? {
            var digits = ""
            while cursor < scalars.count, ("0"..."9").contains(scalars[cursor]), digits.count < 6 {
                digits.unicodeScalars.append(scalars[cursor])
                cursor += 1
            }
            return Int(digits)
        }
        guard let min = number() else { return nil }
        var max: Int? = min
        if cursor < scalars.count, scalars[cursor] == "," {
            cursor += 1
            max = number()
        }
        guard cursor < scalars.count, scalars[cursor] == "}" else { return nil }
        index = cursor + 1
        return (min, max)
    }

    mutating func atom() throws(Failure) -> PatternNode {
        guard let scalar = peek else { throw Failure(reason: "the pattern ends too early") }
        index += 1
        switch scalar {
        case "^": return .start
        case "$": return .end
        case ".": return .set(.dot)
        case "[": return .set(try characterClass())
        case "(": return try group()
        case "*", "+", "?": throw Failure(reason: "nothing to repeat before '\(scalar)' at position \(index - 1)")
        case "\\": return .set(try escape(inClass: false))
        default: return .set(.of(scalar))
        }
    }

    mutating func group() throws(Failure) -> PatternNode {
        if peek == "?" {
            let kind = index + 1 < scalars.count ? scalars[index + 1] : " "
            switch kind {
            case ":": index += 2
            case "<" where index + 2 < scalars.count && scalars[index + 2] != "=" && scalars[index + 2] != "!":
                guard let close = scalars[index...].firstIndex(of: ">") else { throw Failure(reason: "a group name is not closed") }
                index = close + 1
            default:
                throw Failure(reason: "lookahead and lookbehind ((?=, (?!, (?<=, (?<!) need backtracking and are not supported")
            }
        }
        let inner = try alternatives()
        guard peek == ")" else { throw Failure(reason: "a '(' is not closed") }
        index += 1
        return inner
    }

    mutating func characterClass() throws(Failure) -> ScalarSet {
        var set = ScalarSet()
        if peek == "^" {
            set.negated = true
            index += 1
        }
        var items: [ScalarSet] = []
        while let scalar = peek, scalar != "]" {
            index += 1
            let low: ScalarSet = scalar == "\\" ? try escape(inClass: true) : .of(scalar)
            if peek == "-", index + 1 < scalars.count, scalars[index + 1] != "]",
                let from = low.single
            {
                index += 1
                guard let next = peek else { break }
                index += 1
                let high: ScalarSet = next == "\\" ? try escape(inClass: true) : .of(next)
                guard let to = high.single, from <= to else { throw Failure(reason: "a class range runs backwards or uses \\d, \\w or \\s") }
                items.append(ScalarSet(ranges: [from...to]))
            } else {
                items.append(low)
            }
        }
        guard peek == "]" else { throw Failure(reason: "a '[' is not closed") }
        index += 1
        set.ranges = items.filter { !$0.negated }.flatMap(\.ranges)
        set.negatedParts = items.filter(\.negated)
        return set
    }

    mutating func escape(inClass: Bool) throws(Failure) -> ScalarSet {
        guard let scalar = peek else { throw Failure(reason: "the pattern ends with '\\'") }
        index += 1
        switch scalar {
        case "d": return .digit
        case "D": return ScalarSet.digit.inverted
        case "w": return .word
        case "W": return ScalarSet.word.inverted
        case "s": return .space
        case "S": return ScalarSet.space.inverted
        case "n": return .of("\n")
        case "r": return .of("\r")
        case "t": return .of("\t")
        case "f": return .of("\u{0C}")
        case "v": return .of("\u{0B}")
        case "0": return .of("\u{00}")
        case "b" where inClass: return .of("\u{08}")
        case "b", "B": throw Failure(reason: "word boundaries (\\b, \\B) are not supported")
        case "1"..."9": throw Failure(reason: "backreferences (\\\(scalar)) need backtracking and are not supported")
        case "x": return .of(try hex(digits: 2))
        case "u":
            if peek == "{" {
                index += 1
                guard let close = scalars[index...].firstIndex(of: "}") else { throw Failure(reason: "a \\u{...} escape is not closed") }
                let value = UInt32(String(String.UnicodeScalarView(scalars[index..<close])), radix: 16)
                index = close + 1
                guard let value, let decoded = Unicode.Scalar(value) else { throw Failure(reason: "a \\u{...} escape is not a scalar value") }
                return .of(decoded)
            }
            return .of(try hex(digits: 4))
        case "c", "p", "P", "k": throw Failure(reason: "the escape \\\(scalar) is not supported")
        default:
            guard !("a"..."z").contains(scalar), !("A"..."Z").contains(scalar) else {
                throw Failure(reason: "the escape \\\(scalar) is not supported")
            }
            return .of(scalar)  // an escaped punctuation character stands for itself
        }
    }

    mutating func hex(digits: Int) throws(Failure) -> Unicode.Scalar {
        guard index + digits <= scalars.count, let value = UInt32(String(String.UnicodeScalarView(scalars[index..<index + digits])), radix: 16),
            let decoded = Unicode.Scalar(value)
        else { throw Failure(reason: "a hexadecimal escape needs \(digits) hex digits") }
        index += digits
        return decoded
    }
}

extension ScalarSet {
    /// The one scalar this set holds, for class ranges.
    var single: UInt32? {
        guard !negated, ranges.count == 1, let range = ranges.first, range.lowerBound == range.upperBound else { return nil }
        return range.lowerBound
    }
}

private struct PatternCompiler {
    var program: [Instruction] = []
    var sets: [ScalarSet] = []

    mutating func emit(_ node: PatternNode) {
        // Past the size limit the caller refuses the pattern: stop copying repetitions.
        guard program.count <= SchemaPattern.maximumSize else { return }
        switch node {
        case .set(let set):
            program.append(.consume(sets.count))
            sets.append(set)
        case .start: program.append(.start)
        case .end: program.append(.end)
        case .sequence(let items):
            for item in items { emit(item) }
        case .alternatives(let branches):
            var jumps: [Int] = []
            for (offset, branch) in branches.enumerated() {
                if offset < branches.count - 1 {
                    let split = program.count
                    program.append(.split(split + 1, 0))
                    emit(branch)
                    jumps.append(program.count)
                    program.append(.jump(0))
                    program[split] = .split(split + 1, program.count)
                } else {
                    emit(branch)
                }
            }
            for jump in jumps { program[jump] = .jump(program.count) }
        case .repeated(let inner, let min, let max):
            for _ in 0..<min { emit(inner) }
            if let max {
                var exits: [Int] = []
                for _ in min..<max {
                    exits.append(program.count)
                    program.append(.split(program.count + 1, 0))
                    emit(inner)
                    guard program.count <= SchemaPattern.maximumSize else { return }
                }
                for exit in exits { program[exit] = .split(exit + 1, program.count) }
            } else {
                let loop = program.count
                program.append(.split(loop + 1, 0))
                emit(inner)
                program.append(.jump(loop))
                program[loop] = .split(loop + 1, program.count)
            }
        }
    }
}
