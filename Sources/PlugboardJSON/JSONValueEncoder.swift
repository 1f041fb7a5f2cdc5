#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Encodes `Encodable` values straight to `JSONValue`, keys in the order the type encodes them.
/// Foundation's JSONEncoder builds, sorts and serialises an intermediate tree; on the tool-call
/// path that costs more than the database query behind it. Dates become ISO 8601 strings, Data
/// base64, URLs their absolute string; non-finite numbers are an error, as with JSONEncoder.
public struct JSONValueEncoder: Sendable {
    public init() {}

    public func encode<Value: Encodable>(_ value: Value) throws -> JSONValue {
        try EncodingNode.encode(value, codingPath: [])
    }
}

/// A container under construction; values go in as they are encoded, nested containers as nodes.
private final class EncodingNode {
    enum Slot {
        case value(JSONValue)
        case node(EncodingNode)
    }

    var object: [(key: String, slot: Slot)]?
    var array: [Slot]?
    var single: Slot?

    var json: JSONValue {
        if let object { return .object(JSONObject(object.map { (key: $0.key, value: $0.slot.json) })) }
        if let array { return .array(array.map(\.json)) }
        return single?.json ?? .object(JSONObject())
    }

    static func encode<Value: Encodable>(_ value: Value, codingPath: [any CodingKey]) throws -> JSONValue {
        if let direct = try direct(value, codingPath: codingPath) { return direct }
        let encoder = NodeEncoder(codingPath: codingPath)
        try value.encode(to: encoder)
        return encoder.node.json
    }

    /// The types JSONEncoder also special-cases, plus the common scalars without a round trip
    /// through an encoder.
    static func direct<Value: Encodable>(_ value: Value, codingPath: [any CodingKey]) throws -> JSONValue? {
        switch value {
        case let string as String: return .string(string)
        case let int as Int: return .int(Int64(int))
        case let int as Int64: return .int(int)
        case let bool as Bool: return .bool(bool)
        case let double as Double: return try number(double, codingPath: codingPath)
        case let date as Date: return .string(date.formatted(.iso8601))
        case let data as Data: return .string(data.base64EncodedString())
        case let url as URL: return .string(url.absoluteString)
        case let decimal as Decimal: return Double(decimal.description).map(JSONValue.double) ?? .string(decimal.description)
        default: return nil
        }
    }

    static func number(_ double: Double, codingPath: [any CodingKey]) throws -> JSONValue {
        guard double.isFinite else {
            throw EncodingError.invalidValue(double, .init(codingPath: codingPath, debugDescription: "\(double) is not a valid JSON number"))
        }
        return .double(double)
    }
}

extension EncodingNode.Slot {
    var json: JSONValue {
        switch self {
        case .value(let value): value
        case .node(let node): node.json
        }
    }
}

private struct IndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { "Index \(intValue ?? 0)" }
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

private final class NodeEncoder: Encoder {
    let codingPath: [any CodingKey]
    let node = EncodingNode()
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(codingPath: [any CodingKey]) {
        self.codingPath = codingPath
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if node.object == nil { node.object = [] }
        return KeyedEncodingContainer(KeyedContainer<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if node.array == nil { node.array = [] }
        return UnkeyedContainer(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleContainer(node: node, codingPath: codingPath)
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: EncodingNode
    let codingPath: [any CodingKey]

    private func put(_ value: JSONValue, _ key: Key) {
        node.object?.append((key.stringValue, .value(value)))
    }

    mutating func encodeNil(forKey key: Key) { put(.null, key) }
    mutating func encode(_ value: Bool, forKey key: Key) { put(.bool(value), key) }
    mutating func encode(_ value: String, forKey key: Key) { put(.string(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { put(try EncodingNode.number(value, codingPath: codingPath + [key]), key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { put(try EncodingNode.number(Double(value), codingPath: codingPath + [key]), key) }
    mutating func encode(_ value: Int, forKey key: Key) { put(.int(Int64(value)), key) }
    mutating func encode(_ value: Int8, forKey key: Key) { put(.int(Int64(value)), key) }
    mutating func encode(_ value: Int16, forKey key: Key) { put(.int(Int64(value)), key) }
    mutating func encode(_ value: Int32, forKey key: Key) { put(.int(Int64(value)), key) }
    mutating func encode(_ value: Int64, forKey key: Key) { put(.int(value), key) }
    mutating func encode(_ value: UInt, forKey key: Key) { put(Int64(exactly: value).map(JSONValue.int) ?? .double(Double(value)), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) { put(.int(Int64(value)), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) { put(.int(Int64(value)), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) { put(.int(Int64(value)), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) { put(Int64(exactly: value).map(JSONValue.int) ?? .double(Double(value)), key) }

    mutating func encode<Value: Encodable>(_ value: Value, forKey key: Key) throws {
        put(try EncodingNode.encode(value, codingPath: codingPath + [key]), key)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let child = EncodingNode()
        child.object = []
        node.object?.append((key.stringValue, .node(child)))
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(node: child, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let child = EncodingNode()
        child.array = []
        node.object?.append((key.stringValue, .node(child)))
        return UnkeyedContainer(node: child, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder { superEncoder(named: "super") }
    mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder(named: key.stringValue, key) }

    private func superEncoder(named name: String, _ key: (any CodingKey)? = nil) -> any Encoder {
        let encoder = NodeEncoder(codingPath: codingPath + (key.map { [$0] } ?? []))
        node.object?.append((name, .node(encoder.node)))
        return encoder
    }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let node: EncodingNode
    let codingPath: [any CodingKey]
    var count: Int { node.array?.count ?? 0 }

    private func put(_ value: JSONValue) { node.array?.append(.value(value)) }

    mutating func encodeNil() { put(.null) }
    mutating func encode(_ value: Bool) { put(.bool(value)) }
    mutating func encode(_ value: String) { put(.string(value)) }
    mutating func encode(_ value: Double) throws { put(try EncodingNode.number(value, codingPath: codingPath + [IndexKey(count)])) }
    mutating func encode(_ value: Float) throws { put(try EncodingNode.number(Double(value), codingPath: codingPath + [IndexKey(count)])) }
    mutating func encode(_ value: Int) { put(.int(Int64(value))) }
    mutating func encode(_ value: Int8) { put(.int(Int64(value))) }
    mutating func encode(_ value: Int16) { put(.int(Int64(value))) }
    mutating func encode(_ value: Int32) { put(.int(Int64(value))) }
    mutating func encode(_ value: Int64) { put(.int(value)) }
    mutating func encode(_ value: UInt) { put(Int64(exactly: value).map(JSONValue.int) ?? .double(Double(value))) }
    mutating func encode(_ value: UInt8) { put(.int(Int64(value))) }
    mutating func encode(_ value: UInt16) { put(.int(Int64(value))) }
    mutating func encode(_ value: UInt32) { put(.int(Int64(value))) }
    mutating func encode(_ value: UInt64) { put(Int64(exactly: value).map(JSONValue.int) ?? .double(Double(value))) }

    mutating func encode<Value: Encodable>(_ value: Value) throws {
        put(try EncodingNode.encode(value, codingPath: codingPath + [IndexKey(count)]))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let child = EncodingNode()
        child.object = []
        let path = codingPath + [IndexKey(count)]
        node.array?.append(.node(child))
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(node: child, codingPath: path))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let child = EncodingNode()
        child.array = []
        let path = codingPath + [IndexKey(count)]
        node.array?.append(.node(child))
        return UnkeyedContainer(node: child, codingPath: path)
    }

    mutating func superEncoder() -> any Encoder {
        let encoder = NodeEncoder(codingPath: codingPath + [IndexKey(count)])
        node.array?.append(.node(encoder.node))
        return encoder
    }
}

private struct SingleContainer: SingleValueEncodingContainer {
    let node: EncodingNode
    let codingPath: [any CodingKey]

    private func put(_ value: JSONValue) { node.single = .value(value) }

    mutating func encodeNil() { put(.null) }
    mutating func encode(_ value: Bool) { put(.bool(value)) }
    mutating func encode(_ value: String) { put(.string(value)) }
    mutating func encode(_ value: Double) throws { put(try EncodingNode.number(value, codingPath: codingPath)) }
    mutating func encode(_ value: Float) throws { put(try EncodingNode.number(Double(value), codingPath: codingPath)) }
    mutating func encode(_ value: Int) { put(.int(Int64(value))) }
    mutating func encode(_ value: Int8) { put(.int(Int64(value))) }
    mutating func encode(_ value: Int16) { put(.int(Int64(value))) }
    mutating func encode(_ value: Int32) { put(.int(Int64(value))) }
    mutating func encode(_ value: Int64) { put(.int(value)) }
    mutating func encode(_ value: UInt) { put(Int64(exactly: value).map(JSONValue.int) ?? .double(Double(value))) }
    mutating func encode(_ value: UInt8) { put(.int(Int64(value))) }
    mutating func encode(_ value: UInt16) { put(.int(Int64(value))) }
    mutating func encode(_ value: UInt32) { put(.int(Int64(value))) }
    mutating func encode(_ value: UInt64) { put(Int64(exactly: value).map(JSONValue.int) ?? .double(Double(value))) }

    mutating func encode<Value: Encodable>(_ value: Value) throws {
        put(try EncodingNode.encode(value, codingPath: codingPath))
    }
}
