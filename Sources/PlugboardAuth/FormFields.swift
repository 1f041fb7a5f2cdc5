import Foundation

/// `application/x-www-form-urlencoded` fields (token requests, the login and consent forms, the
/// authorization request's query, introspection requests). OAuth forbids repeating a parameter,
/// so a repeat is an error.
package enum FormFields {
    package struct Repeated: Error {
        package let name: String
    }

    package static func parse(_ text: String) throws(Repeated) -> [String: String] {
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

    /// Percent-encodes everything but ASCII letters, digits and `-._~` (a space as `%20`, which
    /// every form decoder reads as a space).
    package static func encode(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? value
    }

    package static func encode(_ fields: [(String, String)]) -> String {
        fields.map { encode($0.0) + "=" + encode($0.1) }.joined(separator: "&")
    }

    // Not CharacterSet.alphanumerics: that holds every Unicode letter, which would pass unencoded.
    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
}
