import Foundation

/// `application/x-www-form-urlencoded` fields (token requests, the login and consent forms, the
/// authorization request's query). OAuth forbids repeating a parameter, so a repeat is an error.
enum FormFields {
    struct Repeated: Error {
        let name: String
    }

    static func parse(_ text: String) throws(Repeated) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = decode(parts[0])
            let value = parts.count > 1 ? decode(parts[1]) : ""
            guard fields[name] == nil else { throw Repeated(name: name) }
            fields[name] = value
        }
        return fields
    }

    private static func decode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }

    static func encode(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }
}
