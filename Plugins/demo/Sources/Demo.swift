import PlugboardKit

/// A Swift plugin showing the everyday cases: structured output, progress with cancellation,
/// and a tool that fails the way a model can learn from.
@c(plugboard_plugin_v1)
public func plugboardPlugin() -> UnsafePointer<pb_plugin> {
    Plugboard.export(name: "demo", version: "1.0.0") { plugin in
        plugin.tool("demo.echo") { (arguments: EchoArguments, _) in
            .text(arguments.text)
        }

        plugin.tool("demo.statistics") { (arguments: StatisticsArguments, _) in
            guard !arguments.values.isEmpty else { throw ToolError("Give at least one value.") }
            let sorted = arguments.values.sorted()
            let mean = sorted.reduce(0, +) / Double(sorted.count)
            let middle = sorted.count / 2
            let median = sorted.count.isMultiple(of: 2) ? (sorted[middle - 1] + sorted[middle]) / 2 : sorted[middle]
            return .structured(Statistics(count: sorted.count, mean: mean, median: median, min: sorted[0], max: sorted[sorted.count - 1]))
        }

        plugin.tool("demo.countdown") { (arguments: CountdownArguments, call) in
            for step in 0..<arguments.steps {
                try Task.checkCancellation()
                call.progress(Double(step + 1), total: Double(arguments.steps), message: "step \(step + 1) of \(arguments.steps)")
                try await Task.sleep(for: .milliseconds(arguments.delayMs ?? 100))
            }
            return .text("Counted down \(arguments.steps) steps.")
        }

        plugin.tool("demo.divide") { (arguments: DivideArguments, _) in
            guard arguments.divisor != 0 else {
                throw ToolError("Cannot divide by zero: pass a non-zero 'divisor'.")
            }
            return .structured(Quotient(quotient: arguments.dividend / arguments.divisor))
        }
    }
}

struct EchoArguments: Decodable {
    let text: String
}

struct StatisticsArguments: Decodable {
    let values: [Double]
}

struct Statistics: Encodable {
    let count: Int
    let mean: Double
    let median: Double
    let min: Double
    let max: Double
}

struct CountdownArguments: Decodable {
    let steps: Int
    let delayMs: Int?

    enum CodingKeys: String, CodingKey {
        case steps
        case delayMs = "delay_ms"
    }
}

struct DivideArguments: Decodable {
    let dividend: Double
    let divisor: Double
}

struct Quotient: Encodable {
    let quotient: Double
}
