import PlugboardJSON

/// One progress report of a running request.
public struct ProgressUpdate: Sendable, Equatable {
    public var progress: Double
    public var total: Double?
    public var message: String?

    public init(progress: Double, total: Double? = nil, message: String? = nil) {
        self.progress = progress
        self.total = total
        self.message = message
    }
}

/// Receives a request's progress reports; only set when the client asked for progress.
public typealias ProgressSink = @Sendable (ProgressUpdate) -> Void

/// The `notifications/progress` message for one update.
enum ProgressNotification {
    static func encode(token: JSONValue, _ update: ProgressUpdate) -> [UInt8] {
        var params: JSONObject = ["progressToken": token, "progress": .double(update.progress)]
        if let total = update.total { params["total"] = .double(total) }
        if let message = update.message { params["message"] = .string(message) }
        return JSONRPCEncoding.notification(method: "notifications/progress", params: .object(params))
    }
}
