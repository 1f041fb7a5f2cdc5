import Logging
import PlugboardMCP
import Synchronization

/// Owns the plugins: builds generations, hands the current catalog to the MCP server and
/// retires generations when they are replaced or the host stops.
public final class PluginHost: MCPCatalogSource {
    private let configuration: PluginHostConfiguration
    private let registry: CallRegistry
    private let data: any DataService
    private let logger: Logger
    private let current: Mutex<Generation?>
    private let sweeper: Task<Void, Never>

    public init(configuration: PluginHostConfiguration, data: any DataService = NoDatabase(), logger: Logger) {
        self.configuration = configuration
        self.registry = CallRegistry(logger: logger)
        self.data = data
        self.logger = logger
        self.current = Mutex(nil)
        let registry = self.registry
        self.sweeper = Task { await registry.sweepDeadlines() }
    }

    deinit {
        sweeper.cancel()
    }

    /// Loads the plugins folder as the first generation. Refused plugins are reported and logged;
    /// everything else serves.
    @discardableResult
    public func start() -> LoadReport {
        let (generation, report) = GenerationBuilder(configuration: configuration, registry: registry, data: data, logger: logger).build(number: 1)
        current.withLock { $0 = generation }
        log(report)
        return report
    }

    /// The catalog of the generation serving now (empty before `start`).
    public func currentCatalog() -> any MCPCatalog {
        currentGeneration?.catalog ?? Catalog(revision: 0, tools: [], resources: [], prompts: [], logger: logger)
    }

    public var currentGeneration: Generation? {
        current.withLock { $0 }
    }

    /// Drains and releases every plugin. Calls in flight finish first.
    public func shutdown() async {
        let generation = current.withLock { generation -> Generation? in
            defer { generation = nil }
            return generation
        }
        await generation?.retire()
        sweeper.cancel()
    }

    private func log(_ report: LoadReport) {
        for plugin in report.plugins {
            logger.info(
                "plugin loaded",
                metadata: [
                    "plugin": "\(plugin.name)", "version": "\(plugin.version)", "tools": "\(plugin.tools.joined(separator: ","))",
                    "digest": "\(plugin.digest.prefix(12))",
                ])
        }
        for refusal in report.refusals {
            logger.error("plugin refused: \(refusal)")
        }
        for warning in report.warnings {
            logger.warning("\(warning)")
        }
    }
}
