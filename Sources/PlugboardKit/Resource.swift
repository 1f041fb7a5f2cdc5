import PlugboardJSON
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A request to read a resource.
public struct ResourceRequest: Sendable, Decodable {
    /// The URI the client asked for.
    public let uri: String
    /// The variables of the matching `uri_template` (`projects://{id}` gives `["id": "42"]`).
    public let parameters: [String: String]

    private enum CodingKeys: String, CodingKey {
        case uri
        case parameters = "params"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        uri = try container.decode(String.self, forKey: .uri)
        parameters = try container.decodeIfPresent([String: String].self, forKey: .parameters) ?? [:]
    }
}

/// The contents of a resource.
public enum ResourceContent: Sendable {
    case text(String, mimeType: String = "text/plain")
    /// Binary data, sent base64-encoded.
    case blob([UInt8], mimeType: String)

    /// An `Encodable` value rendered as JSON text.
    public static func json<Value: Encodable>(_ value: Value) throws -> ResourceContent {
        .text(try JSONValueEncoder().encode(value).jsonString, mimeType: "application/json")
    }

    func encoded(uri: String) -> [UInt8] {
        var item: JSONObject = ["uri": .string(uri)]
        switch self {
        case .text(let text, let mimeType):
            item["mimeType"] = .string(mimeType)
            item["text"] = .string(text)
        case .blob(let bytes, let mimeType):
            item["mimeType"] = .string(mimeType)
            item["blob"] = .string(Data(bytes).base64EncodedString())
        }
        return JSONValue.object(["contents": .array([.object(item)])]).jsonBytes
    }
}
