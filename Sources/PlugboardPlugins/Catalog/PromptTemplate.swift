/// Prompt templates: text with `{{argument}}` placeholders, filled from the client's arguments.
enum PromptTemplate {
    /// The placeholder names used in `text`, in order of appearance.
    static func placeholders(in text: String) -> [String] {
        var names: [String] = []
        var rest = Substring(text)
        while let open = rest.firstRange(of: "{{") {
            rest = rest[open.upperBound...]
            guard let close = rest.firstRange(of: "}}") else { break }
            let name = rest[..<close.lowerBound].trimmingSpaces
            if !name.isEmpty { names.append(name) }
            rest = rest[close.upperBound...]
        }
        return names
    }

    /// `text` with each `{{name}}` replaced by its argument (missing optional arguments become "").
    static func render(_ text: String, arguments: [String: String]) -> String {
        var output = ""
        var rest = Substring(text)
        while let open = rest.firstRange(of: "{{") {
            output += rest[..<open.lowerBound]
            rest = rest[open.upperBound...]
            guard let close = rest.firstRange(of: "}}") else {
                output += "{{"
                break
            }
            output += arguments[rest[..<close.lowerBound].trimmingSpaces] ?? ""
            rest = rest[close.upperBound...]
        }
        output += rest
        return output
    }
}

extension Substring {
    var trimmingSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
