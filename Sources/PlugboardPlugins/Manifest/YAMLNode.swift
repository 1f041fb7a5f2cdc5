import PlugboardJSON
import Yams

/// What is wrong in a YAML file (a manifest or `config.yaml`), and at which line. The reader of
/// each kind of file turns it into its own error (a plugin refusal, a configuration error).
package struct YAMLProblem: Error, Sendable {
    package var file: String
    package var line: Int?
    package var reason: String

    package init(file: String, line: Int?, reason: String) {
        self.file = file
        self.line = line
        self.reason = reason
    }
}

/// A YAML node with the context needed to report errors at its line.
package struct YAMLNode {
    package let node: Node
    /// Where the node sits in the document, for messages: `tools[2].input_schema`.
    package let path: String
    package let file: String

    package init(node: Node, path: String, file: String) {
        self.node = node
        self.path = path
        self.file = file
    }

    /// Reads a YAML document; syntax errors carry their line.
    package static func document(yaml text: String, file: String) throws(YAMLProblem) -> YAMLNode {
        func fail(_ line: Int?, _ reason: String) -> YAMLProblem { YAMLProblem(file: file, line: line, reason: reason) }
        do {
            guard let root = try Yams.compose(yaml: text) else { throw fail(nil, "the file is empty") }
            return YAMLNode(node: root, path: "", file: file)
        } catch let error as YAMLProblem {
            throw error
        } catch let error as YamlError {
            switch error {
            case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
                .composer(let context, let problem, let mark, _):
                throw fail(mark.line, "invalid YAML: \(problem)\(context.map { " (\($0.text))" } ?? "") at column \(mark.column)")
            case .duplicatedKeysInMapping(let duplicates, let context):
                throw fail(context.mark.line, "invalid YAML: duplicated key(s) \(duplicates.sorted().joined(separator: ", "))")
            default:
                throw fail(nil, "invalid YAML: \(error)")
            }
        } catch {
            throw fail(nil, "cannot read YAML: \(error)")
        }
    }

    package var line: Int? { node.mark?.line }

    /// The resolved YAML type of a scalar (str, int, bool, null ...).
    package var tagName: Tag.Name { Tag.Name(rawValue: node.tag.rawValue) }

    package func error(_ reason: String) -> YAMLProblem {
        YAMLProblem(file: file, line: line, reason: path.isEmpty ? reason : "\(path): \(reason)")
    }

    package func child(_ key: String, _ node: Node) -> YAMLNode {
        YAMLNode(node: node, path: path.isEmpty ? key : "\(path).\(key)", file: file)
    }

    /// The mapping's entries, refusing keys outside `allowed` with a suggestion for typos.
    package func mapping(allowed: [String]) throws(YAMLProblem) -> [String: YAMLNode] {
        guard let mapping = node.mapping else { throw error("expected a mapping (key: value)") }
        var result: [String: YAMLNode] = [:]
        for (key, value) in mapping {
            guard let name = key.scalar?.string else { throw error("keys must be plain strings") }
            guard allowed.contains(name) else {
                let hint = allowed.min { editDistance($0, name) < editDistance($1, name) }
                    .flatMap { editDistance($0, name) <= 3 ? " (did you mean '\($0)'?)" : nil } ?? ""
                throw YAMLNode(node: key, path: path, file: file).error("unknown key '\(name)'\(hint); allowed: \(allowed.joined(separator: ", "))")
            }
            result[name] = child(name, value)
        }
        return result
    }

    package func string() throws(YAMLProblem) -> String {
        guard let scalar = node.scalar, tagName != .null else { throw error("expected a string") }
        return scalar.string
    }

    package func bool() throws(YAMLProblem) -> Bool {
        guard let bool = node.bool, tagName == .bool else { throw error("expected true or false") }
        return bool
    }

    package func integer(in range: ClosedRange<Int>) throws(YAMLProblem) -> Int {
        guard let int = node.int, tagName == .int else { throw error("expected an integer") }
        guard range.contains(int) else { throw error("must be between \(range.lowerBound) and \(range.upperBound), got \(int)") }
        return int
    }

    package func sequence() throws(YAMLProblem) -> [YAMLNode] {
        guard let sequence = node.sequence else { throw error("expected a list") }
        return sequence.enumerated().map { offset, element in
            YAMLNode(node: element, path: "\(path)[\(offset)]", file: file)
        }
    }

    package func strings() throws(YAMLProblem) -> [String] {
        var result: [String] = []
        for element in try sequence() { result.append(try element.string()) }
        return result
    }

    /// The node as JSON, for schemas, annotations and plugin configuration.
    package func json() throws(YAMLProblem) -> JSONValue {
        switch node {
        case .scalar(let scalar):
            switch tagName {
            case .null: return .null
            case .bool: return .bool(node.bool ?? false)
            case .int: return node.int.map { .int(Int64($0)) } ?? .string(scalar.string)
            case .float:
                guard let double = node.float, double.isFinite else { throw error("numbers must be finite") }
                return .double(double)
            default: return .string(scalar.string)
            }
        case .mapping(let mapping):
            var object = JSONObject()
            for (key, value) in mapping {
                guard let name = key.scalar?.string else { throw error("keys must be plain strings") }
                object[name] = try child(name, value).json()
            }
            return .object(object)
        case .sequence(let sequence):
            var array: [JSONValue] = []
            for (offset, element) in sequence.enumerated() {
                array.append(try YAMLNode(node: element, path: "\(path)[\(offset)]", file: file).json())
            }
            return .array(array)
        case .alias:
            throw error("YAML aliases are not supported in manifests")
        }
    }
}

/// Levenshtein distance, for "did you mean" hints on mistyped keys.
func editDistance(_ lhs: String, _ rhs: String) -> Int {
    let a = Array(lhs), b = Array(rhs)
    guard !a.isEmpty else { return b.count }
    guard !b.isEmpty else { return a.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
