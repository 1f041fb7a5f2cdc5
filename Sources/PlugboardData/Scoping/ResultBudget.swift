/// How much of a query's result the host reads before it gives up: rows are counted as they are
/// read, and past the budget the plugin gets `tooLarge` instead of the rows, so one statement
/// (`SELECT zeroblob(9000000), ...`, `SELECT repeat('x', 90000000) FROM ...`) cannot make the host
/// hold more than about that much.
///
/// The budget is the host's, not the tool's: a call's `QueryScope` does not carry the tool's
/// `max_result_chars`, which the catalog checks on what the tool finally returns. One number for
/// every call keeps the host's memory bounded whatever a manifest declares.
enum ResultBudget {
    /// Bytes of values (text and blobs as their bytes, numbers as 21, null as 5, plus separators),
    /// about what the rows take as JSON when nothing needs escaping.
    static let bytes = 8 * 1024 * 1024

    static func tooLarge(_ budget: Int = bytes) -> QueryRefusal {
        QueryRefusal(
            "the query's result is over \(budget / (1024 * 1024)) MiB, more than the host reads for one statement: "
                + "ask for less (filter, select fewer or shorter columns, or a smaller page) and aggregate in SQL")
    }

    /// The estimated size of a text or blob value of `count` bytes.
    static func value(bytes count: Int) -> Int { count + 3 }
    /// The estimated size of a number.
    static let number = 21
    /// The estimated size of a null.
    static let null = 5
}
