import Synchronization

/// One metric per combination of label values, made on first use and reused: making a metric
/// through the factory takes the registry's lock and allocates, which a call should not pay.
/// Label values must come from a bounded set (tool and plugin names, outcomes), never from input.
final class LabeledMetrics<Metric: Sendable>: Sendable {
    private let make: @Sendable ([(String, String)]) -> Metric
    private let names: [String]
    private let made = Mutex<[[String]: Metric]>([:])

    init(labels names: [String], make: @escaping @Sendable ([(String, String)]) -> Metric) {
        self.names = names
        self.make = make
    }

    /// The metric for these label values, in the order of the label names.
    func callAsFunction(_ values: String...) -> Metric {
        made.withLock { made in
            if let metric = made[values] { return metric }
            let metric = make(Array(zip(names, values)))
            made[values] = metric
            return metric
        }
    }
}
