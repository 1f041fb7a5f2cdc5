import CPlugboard

extension QueryReply {
    /// How the query ended, in a word (a metric label): `ok`; `refused` before it ran (scoping,
    /// one statement, parameters); `error` from the database (an SQL error, the time limit, the
    /// size budget); `unavailable` without a database; else `internal_error`.
    public var outcome: String {
        switch status {
        case PB_OK: "ok"
        case PB_INVALID_ARGUMENTS: "refused"
        case PB_TOOL_ERROR: "error"
        case PB_UNAVAILABLE: "unavailable"
        default: "internal_error"
        }
    }
}
