import PlugboardJSON

/// Says why tool arguments did not decode into the handler's type, in the model's terms: which
/// argument, what it must be, what came ("argument 'days' must be an integer, got 2.5").
enum ArgumentError {
    static func describe(_ error: DecodingError, input: [UInt8]) -> String {
        let arguments = (try? JSONValue(parsing: input)) ?? .object(JSONObject())
        switch error {
        case .keyNotFound(let key, let context):
            let parent = name(context.codingPath)
            return "missing required argument '\(key.stringValue)'" + (context.codingPath.isEmpty ? "" : " in '\(parent)'")
        case .typeMismatch(let type, let context):
            return "argument '\(name(context.codingPath))' must be \(kind(of: type)), got \(shown(value(at: context.codingPath, in: arguments)))"
        case .valueNotFound(let type, let context):
            return "argument '\(name(context.codingPath))' must be \(kind(of: type)), got null"
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            // The host checked the JSON against the tool's schema, so what Foundation calls "not
            // valid JSON" is a number that does not fit its Swift type: a fraction or an integer
            // too large. Name the arguments that hold such numbers.
            let misfits = numbers(in: arguments, at: []).filter { !$0.fitsInteger }
            guard !misfits.isEmpty else { return "the arguments are invalid: \(context.debugDescription)" }
            return misfits.map { "argument '\(name($0.path))' must be an integer, got \($0.text)" }.joined(separator: "; ")
        case .dataCorrupted(let context):
            return "argument '\(name(context.codingPath))' is invalid (\(context.debugDescription)), got \(shown(value(at: context.codingPath, in: arguments)))"
        @unknown default:
            return "the arguments are invalid: \(error)"
        }
    }

    private static func name(_ path: [any CodingKey]) -> String {
        var text = ""
        for key in path {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return text.isEmpty ? "arguments" : text
    }

    private static func kind(of type: Any.Type) -> String {
        let name = String(describing: type)
        if name.hasPrefix("Int") || name.hasPrefix("UInt") { return "an integer" }
        if ["Double", "Float", "Decimal"].contains(name) { return "a number" }
        if name == "String" { return "a string" }
        if name == "Bool" { return "a boolean" }
        if name.hasPrefix("Array") { return "an array" }
        if name.hasPrefix("Dictionary") { return "an object" }
        return "a \(name)"
    }

    private static func value(at path: [any CodingKey], in root: JSONValue) -> JSONValue? {
        var current: JSONValue? = root
        for key in path {
            if let index = key.intValue {
                guard let array = current?.arrayValue, array.indices.contains(index) else { return nil }
                current = array[index]
            } else {
                current = current?[key.stringValue]
            }
        }
        return current
    }

    private static func shown(_ value: JSONValue?) -> String {
        guard let value else { return "nothing" }
        let text = value.jsonString
        return text.count > 40 ? String(text.prefix(40)) + "…" : text
    }

    private struct Number {
        let path: [any CodingKey]
        let text: String
        let fitsInteger: Bool
    }

    private struct Key: CodingKey {
        let stringValue: String
        let intValue: Int?
        init(stringValue: String) { (self.stringValue, self.intValue) = (stringValue, nil) }
        init(intValue: Int) { (self.stringValue, self.intValue) = (String(intValue), intValue) }
    }

    private static func numbers(in value: JSONValue, at path: [any CodingKey]) -> [Number] {
        switch value {
        case .int(let number): return [Number(path: path, text: String(number), fitsInteger: true)]
        case .double(let number): return [Number(path: path, text: value.jsonString, fitsInteger: number.rounded() == number && abs(number) < 9e15)]
        case .array(let elements): return elements.enumerated().flatMap { numbers(in: $1, at: path + [Key(intValue: $0)]) }
        case .object(let object): return object.entries.flatMap { numbers(in: $0.value, at: path + [Key(stringValue: $0.key)]) }
        default: return []
        }
    }
}
