import PlugboardContracts

/// How much of a query's result the host reads before it gives up: rows are counted as they are
/// read, and past the call's budget (`QueryScope.maxResultBytes`: the tool's `max_result_chars`,
/// at most 8 MiB) the plugin gets `tooLarge` instead of the rows, so one statement
/// (`SELECT zeroblob(9000000), ...`, `SELECT repeat('x', 90000000) FROM ...`) cannot make the host
/// hold more than about that much. Sizes are bytes of values (text and blobs as their bytes,
/// numbers as 21, null as 5, plus separators), about what the rows take as JSON when nothing
/// needs escaping: a result over the budget would be over the tool's limit once written.
enum ResultBudget {
    static func tooLarge(_ budget: Int) -> QueryRefusal {
        let limit =
            budget >= QueryScope.hostResultBytes
            ? "over \(budget / (1024 * 1024)) MiB, more than the host reads for one statement"
            : "over this tool's limit of \(budget) characters (limits.max_result_chars in its manifest)"
        return QueryRefusal(
            "the query's result is \(limit): ask for less (filter, select fewer or shorter columns, or a smaller page) and aggregate in SQL")
    }

    /// The estimated size of a text or blob value of `count` bytes.
    static func value(bytes count: Int) -> Int { count + 3 }
    /// The estimated size of a number.
    static let number = 21
    /// The estimated size of a null.
    static let null = 5
}
