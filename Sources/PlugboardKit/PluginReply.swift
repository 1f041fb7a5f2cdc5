/// What a handler hands back to the host: an ABI status and its JSON or message bytes.
struct PluginReply: Sendable {
    let status: Int32
    let bytes: [UInt8]

    init(status: Int32, bytes: [UInt8]) {
        self.status = status
        self.bytes = bytes
    }

    init(status: Int32, text: String) {
        self.init(status: status, bytes: Array(text.utf8))
    }

    /// Maps a thrown error to the status the host understands.
    init(error: any Error) {
        switch error {
        case let error as ToolError: self.init(status: PB_TOOL_ERROR, text: error.message)
        case let error as NotFound: self.init(status: PB_NOT_FOUND, text: error.message)
        case let error as InvalidArguments: self.init(status: PB_INVALID_ARGUMENTS, text: error.message)
        case is CancellationError: self.init(status: PB_TOOL_ERROR, text: "the call was cancelled")
        default: self.init(status: PB_INTERNAL_ERROR, text: String(describing: error))
        }
    }
}
