/// A JSON Schema (the 2020-12 dialect MCP uses by default), checked once when a manifest loads and
/// then used to validate tool arguments and structured results on every call.
///
/// Validation covers the keywords tool schemas use in practice: `type`, `enum`, `const`,
/// `properties`, `required`, `additionalProperties`, `items`, `prefixItems`, length, size and range
/// limits, `multipleOf`, `pattern` (linear-time, see `SchemaPattern`), `allOf`/`anyOf`/`oneOf`/`not`,
/// and local `$ref`s into `$defs`/`definitions`. Annotation keywords (`title`, `description`,
/// `format`, `default`, `examples` ...) are accepted and not enforced; the assertions it does not
/// implement (`patternProperties`, `if`, `contains` ...) are refused, never silently skipped.
public struct JSONSchema: Sendable {
    /// The schema as written, for listing it to clients.
    public let document: JSONValue
    private let root: SchemaNode

    /// Checks that `document` is a well-formed schema. Errors name the offending location in the
    /// schema (`properties.count.minimum: expected a number`).
    public init(_ document: JSONValue) throws(JSONSchemaError) {
        var compiler = SchemaCompiler(root: document)
        self.root = try compiler.compile(document, at: [])
        try compiler.resolveReferences()
        self.document = document
    }

    /// The first few reasons `instance` does not satisfy this schema; empty when it does.
    public func validate(_ instance: JSONValue, limit: Int = 5) -> [JSONSchemaViolation] {
        var violations: [JSONSchemaViolation] = []
        var path: [String] = []
        root.validate(instance, path: &path, into: &violations, limit: limit)
        return violations
    }
}

/// A schema that is not a valid JSON Schema.
public struct JSONSchemaError: Error, Sendable, CustomStringConvertible {
    public let location: String
    public let reason: String
    public var description: String { location.isEmpty ? reason : "\(location): \(reason)" }
}

/// One way an instance fails a schema, located by a JSON Pointer into the instance.
public struct JSONSchemaViolation: Sendable, Equatable, CustomStringConvertible {
    /// JSON Pointer (RFC 6901) to the offending value; empty for the root.
    public let pointer: String
    public let message: String
    public var description: String { pointer.isEmpty ? message : "\(pointer): \(message)" }
}

// MARK: - Compiled form

final class SchemaNode: @unchecked Sendable {
    // Written only while compiling (before the schema is shared), read-only afterwards.
    var alwaysFails = false
    var types: Set<String>?
    var enumValues: [JSONValue]?
    var constValue: JSONValue?
    var properties: [(String, SchemaNode)] = []
    var required: [String] = []
    var additionalProperties: SchemaNode?
    var forbidsAdditionalProperties = false
    var items: SchemaNode?
    var prefixItems: [SchemaNode] = []
    var minItems: Int?
    var maxItems: Int?
    var uniqueItems = false
    var minLength: Int?
    var maxLength: Int?
    var pattern: SchemaPattern?
    var minimum: Double?
    var maximum: Double?
    var exclusiveMinimum: Double?
    var exclusiveMaximum: Double?
    var multipleOf: Double?
    var minProperties: Int?
    var maxProperties: Int?
    var allOf: [SchemaNode] = []
    var anyOf: [SchemaNode] = []
    var oneOf: [SchemaNode] = []
    var not: SchemaNode?
    var reference: (path: String, target: SchemaNode?)?

    /// Appends the ways `value` fails this schema. `path` is the location of `value`: a stack
    /// pushed and popped on the way down, so valid input costs no allocations for it.
    func validate(_ value: JSONValue, path: inout [String], into violations: inout [JSONSchemaViolation], limit: Int) {
        guard violations.count < limit else { return }
        func report(_ message: String) {
            violations.append(JSONSchemaViolation(pointer: SchemaNode.pointer(path), message: message))
        }
        if alwaysFails {
            report("no value is allowed here")
            return
        }
        if let target = reference?.target {
            target.validate(value, path: &path, into: &violations, limit: limit)
        }
        if let types, !SchemaNode.matches(value, types: types) {
            report("expected \(types.sorted().joined(separator: " or ")), got \(SchemaNode.describe(value))")
            return
        }
        if let enumValues, !enumValues.contains(value) {
            report("must be one of \(enumValues.map(\.jsonString).joined(separator: ", ")), got \(SchemaNode.describe(value))")
        }
        if let constValue, constValue != value {
            report("must be \(constValue.jsonString)")
        }
        switch value {
        case .object(let object):
            for key in required where object[key] == nil {
                report("missing required property '\(key)'")
            }
            if let minProperties, object.count < minProperties { report("must have at least \(minProperties) properties") }
            if let maxProperties, object.count > maxProperties { report("must have at most \(maxProperties) properties") }
            for entry in object.entries {
                if let schema = properties.first(where: { $0.0 == entry.key })?.1 {
                    path.append(entry.key)
                    schema.validate(entry.value, path: &path, into: &violations, limit: limit)
                    path.removeLast()
                } else if forbidsAdditionalProperties {
                    let allowed = properties.map(\.0)
                    report("unknown property '\(entry.key)'" + (allowed.isEmpty ? "" : " (allowed: \(allowed.joined(separator: ", ")))"))
                } else if let additionalProperties {
                    path.append(entry.key)
                    additionalProperties.validate(entry.value, path: &path, into: &violations, limit: limit)
                    path.removeLast()
                }
            }
        case .array(let array):
            if let minItems, array.count < minItems { report("must have at least \(minItems) items") }
            if let maxItems, array.count > maxItems { report("must have at most \(maxItems) items") }
            for (offset, element) in array.enumerated() {
                guard let schema = offset < prefixItems.count ? prefixItems[offset] : items else { continue }
                path.append(String(offset))
                schema.validate(element, path: &path, into: &violations, limit: limit)
                path.removeLast()
            }
            if uniqueItems {
                outer: for i in array.indices {
                    for j in array.indices where j > i && array[i] == array[j] {
                        report("items must be unique (items \(i) and \(j) are equal)")
                        break outer
                    }
                }
            }
        case .string(let string):
            if minLength != nil || maxLength != nil {
                let length = string.unicodeScalars.count
                if let minLength, length < minLength { report("must be at least \(minLength) characters long") }
                if let maxLength, length > maxLength { report("must be at most \(maxLength) characters long") }
            }
            if let pattern, !pattern.matches(string) {
                report("must match the pattern \(pattern.source)")
            }
        case .int, .double:
            let number = value.doubleValue ?? 0
            if let minimum, number < minimum { report("must be >= \(SchemaNode.format(minimum))") }
            if let maximum, number > maximum { report("must be <= \(SchemaNode.format(maximum))") }
            if let exclusiveMinimum, number <= exclusiveMinimum { report("must be > \(SchemaNode.format(exclusiveMinimum))") }
            if let exclusiveMaximum, number >= exclusiveMaximum { report("must be < \(SchemaNode.format(exclusiveMaximum))") }
            if let multipleOf {
                let quotient = number / multipleOf
                if quotient.rounded() != quotient { report("must be a multiple of \(SchemaNode.format(multipleOf))") }
            }
        default:
            break
        }
        for schema in allOf {
            schema.validate(value, path: &path, into: &violations, limit: limit)
        }
        if !anyOf.isEmpty {
            let matched = anyOf.contains { branch in
                var scratch: [JSONSchemaViolation] = []
                var scratchPath = path
                branch.validate(value, path: &scratchPath, into: &scratch, limit: 1)
                return scratch.isEmpty
            }
            if !matched { report("does not match any of the allowed forms (anyOf)") }
        }
        if !oneOf.isEmpty {
            let matches = oneOf.filter { branch in
                var scratch: [JSONSchemaViolation] = []
                var scratchPath = path
                branch.validate(value, path: &scratchPath, into: &scratch, limit: 1)
                return scratch.isEmpty
            }.count
            if matches != 1 { report("must match exactly one of the allowed forms (oneOf), matched \(matches)") }
        }
        if let not {
            var scratch: [JSONSchemaViolation] = []
            var scratchPath = path
            not.validate(value, path: &scratchPath, into: &scratch, limit: 1)
            if scratch.isEmpty { report("must not match the excluded form (not)") }
        }
    }

    static func matches(_ value: JSONValue, types: Set<String>) -> Bool {
        switch value {
        case .null: types.contains("null")
        case .bool: types.contains("boolean")
        case .string: types.contains("string")
        case .array: types.contains("array")
        case .object: types.contains("object")
        case .int: types.contains("integer") || types.contains("number")
        case .double: types.contains("number") || (types.contains("integer") && value.integerValue != nil)
        }
    }

    static func describe(_ value: JSONValue) -> String {
        switch value {
        case .object: return "an object"
        case .array: return "an array"
        default:
            let text = value.jsonString
            return "\(value.typeName) \(text.count > 40 ? String(text.prefix(40)) + "..." : text)"
        }
    }

    static func format(_ number: Double) -> String {
        number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
    }

    static func pointer(_ path: [String]) -> String {
        path.map { component in
            "/" + component.flatMap { character -> [Character] in
                switch character {
                case "~": ["~", "0"]
                case "/": ["~", "1"]
                default: [character]
                }
            }.map(String.init).joined()
        }.joined()
    }
}

// MARK: - Compiler

struct SchemaCompiler {
    let root: JSONValue
    private var pending: [(node: SchemaNode, location: String)] = []
    private var compiledDefinitions: [String: SchemaNode] = [:]

    init(root: JSONValue) { self.root = root }

    private static let knownTypes: Set<String> = ["null", "boolean", "object", "array", "number", "integer", "string"]

    /// Assertions and applicators of JSON Schema this validator does not implement. Accepting one
    /// would make the schema check less than it says (fail open), so a schema using one is refused.
    private static let unimplemented: [String: String] = [
        "patternProperties": "list the properties, or check names in the handler",
        "propertyNames": "check names in the handler",
        "contains": "check the items in the handler", "minContains": "", "maxContains": "",
        "dependentRequired": "require the properties together, or check in the handler", "dependentSchemas": "",
        "dependencies": "", "if": "use anyOf/oneOf", "then": "use anyOf/oneOf", "else": "use anyOf/oneOf",
        "unevaluatedProperties": "use additionalProperties", "unevaluatedItems": "use items", "additionalItems": "use items with prefixItems",
        "$dynamicRef": "", "$recursiveRef": "", "contentSchema": "",
    ]

    mutating func compile(_ schema: JSONValue, at path: [String]) throws(JSONSchemaError) -> SchemaNode {
        let location = path.joined(separator: ".")
        func fail(_ reason: String, _ keyword: String? = nil) -> JSONSchemaError {
            JSONSchemaError(location: ([location] + (keyword.map { [$0] } ?? [])).filter { !$0.isEmpty }.joined(separator: "."), reason: reason)
        }
        let node = SchemaNode()
        switch schema {
        case .bool(true): return node
        case .bool(false):
            node.alwaysFails = true
            return node
        case .object: break
        default: throw fail("a schema must be an object or a boolean, got \(schema.typeName)")
        }
        guard let object = schema.objectValue else { return node }
        for keyword in object.keys {
            guard let advice = Self.unimplemented[keyword] else { continue }
            throw fail("the keyword '\(keyword)' is not supported, so this schema would not check what it says" + (advice.isEmpty ? "" : " (\(advice))"), keyword)
        }

        func integer(_ keyword: String) throws(JSONSchemaError) -> Int? {
            guard let value = object[keyword] else { return nil }
            guard let int = value.integerValue, int >= 0 else { throw fail("expected a non-negative integer", keyword) }
            return Int(int)
        }
        func number(_ keyword: String) throws(JSONSchemaError) -> Double? {
            guard let value = object[keyword] else { return nil }
            guard let double = value.doubleValue else { throw fail("expected a number", keyword) }
            return double
        }
        func schemaList(_ keyword: String) throws(JSONSchemaError) -> [SchemaNode] {
            guard let value = object[keyword] else { return [] }
            guard let array = value.arrayValue, !array.isEmpty else { throw fail("expected a non-empty array of schemas", keyword) }
            var nodes: [SchemaNode] = []
            for (offset, element) in array.enumerated() {
                nodes.append(try compile(element, at: path + [keyword, String(offset)]))
            }
            return nodes
        }

        if let type = object["type"] {
            let names: [String]
            switch type {
            case .string(let name): names = [name]
            case .array(let array):
                var collected: [String] = []
                for element in array {
                    guard let name = element.stringValue else { throw fail("type names must be strings", "type") }
                    collected.append(name)
                }
                names = collected
            default: throw fail("expected a type name or an array of type names", "type")
            }
            for name in names where !Self.knownTypes.contains(name) {
                throw fail("unknown type '\(name)' (use one of \(Self.knownTypes.sorted().joined(separator: ", ")))", "type")
            }
            node.types = Set(names)
        }
        if let enumValue = object["enum"] {
            guard let values = enumValue.arrayValue else { throw fail("expected an array", "enum") }
            node.enumValues = values
        }
        node.constValue = object["const"]
        if let properties = object["properties"] {
            guard let properties = properties.objectValue else { throw fail("expected an object mapping names to schemas", "properties") }
            for entry in properties.entries {
                node.properties.append((entry.key, try compile(entry.value, at: path + ["properties", entry.key])))
            }
        }
        if let required = object["required"] {
            guard let names = required.arrayValue else { throw fail("expected an array of property names", "required") }
            for name in names {
                guard let name = name.stringValue else { throw fail("expected an array of property names", "required") }
                node.required.append(name)
            }
        }
        if let additional = object["additionalProperties"] {
            if additional == .bool(false) {
                node.forbidsAdditionalProperties = true
            } else {
                node.additionalProperties = try compile(additional, at: path + ["additionalProperties"])
            }
        }
        if let items = object["items"] {
            node.items = try compile(items, at: path + ["items"])
        }
        if object["prefixItems"] != nil { node.prefixItems = try schemaList("prefixItems") }
        node.minItems = try integer("minItems")
        node.maxItems = try integer("maxItems")
        if let unique = object["uniqueItems"] {
            guard let flag = unique.boolValue else { throw fail("expected a boolean", "uniqueItems") }
            node.uniqueItems = flag
        }
        node.minLength = try integer("minLength")
        node.maxLength = try integer("maxLength")
        node.minProperties = try integer("minProperties")
        node.maxProperties = try integer("maxProperties")
        if let pattern = object["pattern"] {
            guard let source = pattern.stringValue else { throw fail("expected a regular expression string", "pattern") }
            do {
                node.pattern = try SchemaPattern(source)
            } catch {
                throw fail(error.reason, "pattern")
            }
        }
        node.minimum = try number("minimum")
        node.maximum = try number("maximum")
        node.exclusiveMinimum = try number("exclusiveMinimum")
        node.exclusiveMaximum = try number("exclusiveMaximum")
        node.multipleOf = try number("multipleOf")
        if let multipleOf = node.multipleOf, multipleOf <= 0 { throw fail("must be greater than 0", "multipleOf") }
        node.allOf = try schemaList("allOf")
        node.anyOf = try schemaList("anyOf")
        node.oneOf = try schemaList("oneOf")
        if let not = object["not"] { node.not = try compile(not, at: path + ["not"]) }
        for keyword in ["$defs", "definitions"] {
            guard let definitions = object[keyword] else { continue }
            guard definitions.objectValue != nil else { throw fail("expected an object mapping names to schemas", keyword) }
        }
        if let reference = object["$ref"] {
            guard let target = reference.stringValue else { throw fail("expected a string", "$ref") }
            guard target.hasPrefix("#") else {
                throw fail("only local references ('#/$defs/name') are supported; remote schemas are never fetched", "$ref")
            }
            node.reference = (target, nil)
            pending.append((node, ([location, "$ref"]).filter { !$0.isEmpty }.joined(separator: ".")))
        }
        return node
    }

    /// Undoes JSON Pointer escaping (`~1` is `/`, `~0` is `~`).
    static func unescape(_ component: Substring) -> String {
        var result = ""
        var iterator = component.makeIterator()
        while let character = iterator.next() {
            guard character == "~" else {
                result.append(character)
                continue
            }
            switch iterator.next() {
            case "1": result.append("/")
            case "0": result.append("~")
            case let other?: result.append("~"); result.append(other)
            case nil: result.append("~")
            }
        }
        return result
    }

    /// Points every `$ref` at its compiled target once the whole document has been read.
    mutating func resolveReferences() throws(JSONSchemaError) {
        while let (node, location) = pending.popLast() {
            guard let path = node.reference?.path else { continue }
            if let compiled = compiledDefinitions[path] {
                node.reference = (path, compiled)
                continue
            }
            var target: JSONValue? = root
            let components = path.dropFirst().split(separator: "/", omittingEmptySubsequences: true).map(Self.unescape)
            for component in components {
                switch target {
                case .object(let object): target = object[component]
                case .array(let array): target = Int(component).flatMap { array.indices.contains($0) ? array[$0] : nil }
                default: target = nil
                }
            }
            guard let target else { throw JSONSchemaError(location: location, reason: "reference '\(path)' points at nothing") }
            // A placeholder breaks cycles (a schema that refers to itself).
            let placeholder = SchemaNode()
            compiledDefinitions[path] = placeholder
            let compiled = try compile(target, at: ["$ref(\(path))"])
            compiledDefinitions[path] = compiled
            placeholder.reference = (path, compiled)
            node.reference = (path, compiled)
        }
    }
}
