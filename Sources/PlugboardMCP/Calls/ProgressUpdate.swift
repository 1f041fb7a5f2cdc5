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
