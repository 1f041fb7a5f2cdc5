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
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return .text(String(decoding: try encoder.encode(value), as: UTF8.self), mimeType: "application/json")
    }

    func encoded(uri: String) throws -> [UInt8] {
        struct Item: Encodable {
            let uri: String
            let mimeType: String
            let text: String?
            let blob: String?
        }
        struct Contents: Encodable { let contents: [Item] }
        let item: Item
        switch self {
        case .text(let text, let mimeType):
            item = Item(uri: uri, mimeType: mimeType, text: text, blob: nil)
        case .blob(let bytes, let mimeType):
            item = Item(uri: uri, mimeType: mimeType, text: nil, blob: Data(bytes).base64EncodedString())
        }
        return [UInt8](try JSONEncoder().encode(Contents(contents: [item])))
    }
}
