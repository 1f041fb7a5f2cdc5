import Foundation
import PlugboardJSON

/// Turns an upstream's answer into what the catalog expects from a plugin: a CallToolResult for
/// a success, or a message the model can act on for a refusal.
enum UpstreamReply {
    enum Mapped: Equatable {
        case result(JSONValue)
        case toolError(String)
    }

    static func map(status: Int, body: [UInt8], retryAfter: String?, pointer: String, method: String, path: String) -> Mapped {
        if (200..<300).contains(status) { return success(status: status, body: body, pointer: pointer) }
        let json = try? JSONValue(parsing: body)
        let detail = json.map(describe) ?? String(decoding: body.prefix(500), as: UTF8.self)
        let said = detail.isEmpty ? "" : ": \(detail)"
        let request = "\(method) \(path)"
        switch status {
        case 400, 422:
            return .toolError("The upstream API refused the request as invalid (HTTP \(status), \(request))\(said). Fix those arguments and try again.")
        case 401:
            return .toolError("The upstream API did not accept the host's credentials (HTTP 401, \(request)); this is a server configuration problem, not the arguments.")
        case 403:
            return .toolError("The upstream API refused: the user may not do this (HTTP 403, \(request))\(said).")
        case 404:
            return .toolError("Not found: the upstream API has no such resource for this user (HTTP 404, \(request))\(said). Check the identifier, e.g. by listing first.")
        case 409:
            return .toolError("The upstream API reports a conflict with the current state (HTTP 409, \(request))\(said). Read the current state and retry.")
        case 429:
            let wait = retryAfter.map { " Retry after \($0) seconds." } ?? " Wait before retrying."
            return .toolError("The upstream API is rate limiting these requests (HTTP 429, \(request)).\(wait)")
        case 500...:
            return .toolError("The upstream API failed (HTTP \(status), \(request)). Try again later.")
        default:
            return .toolError("The upstream API answered HTTP \(status) to \(request)\(said).")
        }
    }

    private static func success(status: Int, body: [UInt8], pointer: String) -> Mapped {
        guard !body.isEmpty else { return .result(structured(["status": .int(Int64(status))])) }
        guard let json = try? JSONValue(parsing: body) else {
            return .result(["content": [["type": "text", "text": .string(String(decoding: body, as: UTF8.self))]]])
        }
        guard let picked = resolve(pointer, in: json) else {
            return .toolError("The upstream API's answer has nothing at \(pointer) (the tool's response pointer); the manifest may be out of date.")
        }
        if case .object(let object) = picked { return .result(structured(object)) }
        return .result(structured(["result": picked]))
    }

    static func structured(_ object: JSONObject) -> JSONValue {
        ["content": [["type": "text", "text": .string(JSONValue.object(object).jsonString)]], "structuredContent": .object(object)]
    }

    /// RFC 6901.
    static func resolve(_ pointer: String, in value: JSONValue) -> JSONValue? {
        guard !pointer.isEmpty else { return value }
        var current = value
        for token in pointer.split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
            let key = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            switch current {
            case .object(let object):
                guard let next = object[key] else { return nil }
                current = next
            case .array(let array):
                guard let index = Int(key), array.indices.contains(index) else { return nil }
                current = array[index]
            default:
                return nil
            }
        }
        return current
    }

    /// An error body in a line: DRF's `{"field": ["message"]}` becomes `field: message`, its
    /// `{"detail": "..."}` the detail.
    static func describe(_ value: JSONValue) -> String {
        var parts: [String] = []
        func walk(_ value: JSONValue, _ path: String) {
            switch value {
            case .object(let object):
                for (key, element) in object.entries {
                    walk(element, path.isEmpty || key == "detail" ? (key == "detail" ? path : key) : "\(path).\(key)")
                }
            case .array(let elements):
                let texts = elements.compactMap(\.stringValue)
                if texts.count == elements.count {
                    parts.append(path.isEmpty ? texts.joined(separator: " ") : "\(path): \(texts.joined(separator: " "))")
                } else {
                    for (index, element) in elements.enumerated() { walk(element, "\(path)[\(index)]") }
                }
            case .string(let text):
                parts.append(path.isEmpty ? text : "\(path): \(text)")
            default:
                parts.append(path.isEmpty ? value.jsonString : "\(path): \(value.jsonString)")
            }
        }
        walk(value, "")
        let line = parts.joined(separator: "; ")
        return line.count > 1_000 ? String(line.prefix(1_000)) + "…" : line
    }
}
