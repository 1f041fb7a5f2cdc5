import Foundation
import Logging
import PlugboardJSON

/// Writes each log record as one JSON object on one line:
/// `{"timestamp":"2026-12-02T21:00:00.123Z","level":"info","label":"plugboard","message":"…","metadata":{…}}`.
/// Metadata stays under its own key so a plugin's or a request's keys can never overwrite the
/// record's own fields; numbers and booleans logged as such stay JSON numbers and booleans.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let write: @Sendable ([UInt8]) -> Void

    /// - Parameter write: receives each finished line, newline included.
    public init(label: String, level: Logger.Level, metadataProvider: Logger.MetadataProvider? = nil, write: @escaping @Sendable ([UInt8]) -> Void) {
        self.label = label
        self.logLevel = level
        self.metadataProvider = metadataProvider
        self.write = write
    }

    /// Lines to standard error (stdout belongs to the stdio transport), each in a single write so
    /// lines from concurrent tasks never interleave.
    public static func standardError(label: String, level: Logger.Level, metadataProvider: Logger.MetadataProvider? = nil) -> JSONLogHandler {
        JSONLogHandler(label: label, level: level, metadataProvider: metadataProvider) { line in
            line.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = Foundation.write(2, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
                    if written > 0 {
                        offset += written
                    } else if written < 0, errno == EINTR {
                        continue
                    } else {
                        return  // stderr is gone: nowhere left to say so
                    }
                }
            }
        }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        write(Self.line(at: Date(), level: event.level, label: label, message: event.message.description, metadata: merged))
    }

    /// One record as its JSON line, newline included.
    public static func line(at date: Date, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> [UInt8] {
        var fields: [(key: String, value: JSONValue)] = [
            ("timestamp", .string(timestamp(date))), ("level", .string(level.rawValue)), ("label", .string(label)), ("message", .string(message)),
        ]
        if !metadata.isEmpty {
            fields.append(("metadata", .object(JSONObject(metadata.sorted { $0.key < $1.key }.map { ($0.key, json($0.value)) }))))
        }
        return JSONValue.object(JSONObject(fields)).jsonBytes + [UInt8(ascii: "\n")]
    }

    private static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let string): .string(string)
        case .stringConvertible(let value):
            switch value {
            case let value as Bool: .bool(value)
            case let value as Int: .int(Int64(value))
            case let value as Int64: .int(value)
            case let value as Double where value.isFinite: .double(value)
            default: .string(value.description)
            }
        case .array(let values): .array(values.map(json))
        case .dictionary(let values): .object(JSONObject(values.sorted { $0.key < $1.key }.map { ($0.key, json($0.value)) }))
        }
    }

    /// RFC 3339 in UTC with milliseconds, as log collectors parse without configuration.
    static func timestamp(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1_000).rounded(.down))
        var seconds = time_t(milliseconds / 1_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let millis = milliseconds % 1_000
        let fraction = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(fraction)Z"
    }
}
