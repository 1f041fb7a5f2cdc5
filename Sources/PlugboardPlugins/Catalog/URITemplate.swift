/// A URI template (RFC 6570) of the simple form resources use: literal text and `{variable}`
/// expressions, each matching one path segment (`{+variable}` matches the rest, slashes included).
public struct URITemplate: Sendable, Equatable {
    enum Part: Sendable, Equatable {
        case literal(String)
        case variable(name: String, reserved: Bool)
    }

    public let source: String
    let parts: [Part]

    public var variables: [String] {
        parts.compactMap { if case .variable(let name, _) = $0 { return name } else { return nil } }
    }

    public init(_ source: String) throws(URITemplateError) {
        var parts: [Part] = []
        var literal = ""
        var remainder = Substring(source)
        while let character = remainder.first {
            remainder = remainder.dropFirst()
            if character == "}" { throw URITemplateError(template: source, reason: "unbalanced '}'") }
            guard character == "{" else {
                literal.append(character)
                continue
            }
            guard let close = remainder.firstIndex(of: "}") else { throw URITemplateError(template: source, reason: "unclosed '{'") }
            var expression = remainder[..<close]
            remainder = remainder[remainder.index(after: close)...]
            let reserved = expression.first == "+"
            if reserved { expression = expression.dropFirst() }
            guard !expression.isEmpty, expression.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw URITemplateError(
                    template: source,
                    reason: "unsupported expression '{\(expression)}': use {name} or {+name} with letters, digits and _")
            }
            if case .variable = parts.last, literal.isEmpty {
                throw URITemplateError(template: source, reason: "two variables need literal text between them")
            }
            if !literal.isEmpty { parts.append(.literal(literal)) }
            literal = ""
            parts.append(.variable(name: String(expression), reserved: reserved))
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        guard parts.contains(where: { if case .variable = $0 { true } else { false } }) else {
            throw URITemplateError(template: source, reason: "a uri_template needs at least one {variable}")
        }
        guard case .literal(let prefix) = parts.first, prefix.contains(":") else {
            throw URITemplateError(template: source, reason: "a uri_template must start with a scheme, e.g. projects://{id}")
        }
        self.source = source
        self.parts = parts
    }

    /// The variables of `uri` if it matches this template (values percent-decoded), else nil.
    public func match(_ uri: String) -> [String: String]? {
        var values: [String: String] = [:]
        var rest = Substring(uri)
        for (offset, part) in parts.enumerated() {
            switch part {
            case .literal(let text):
                guard rest.hasPrefix(text) else { return nil }
                rest = rest.dropFirst(text.count)
            case .variable(let name, let reserved):
                let value: Substring
                if case .literal(let next) = parts.dropFirst(offset + 1).first {
                    guard let range = rest.firstRange(of: next) else { return nil }
                    value = rest[..<range.lowerBound]
                } else {
                    value = rest
                }
                guard !value.isEmpty, reserved || !value.contains("/") else { return nil }
                guard let decoded = URITemplate.percentDecode(value) else { return nil }
                values[name] = decoded
                rest = rest[value.endIndex...]
            }
        }
        return rest.isEmpty ? values : nil
    }

    static func percentDecode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            else { return nil }
            bytes.append(value)
        }
        return String(validating: bytes, as: UTF8.self)
    }
}

/// A `uri_template` that cannot be used.
public struct URITemplateError: Error, Sendable, CustomStringConvertible {
    public let template: String
    public let reason: String
    public var description: String { "invalid uri_template '\(template)': \(reason)" }
}
