import Hummingbird
import Logging
import PlugboardPlugins

/// `/metrics` on a listener of its own (`server.metrics_listen`), never on the MCP port: the MCP
/// port faces clients (often the internet through a proxy), while metrics are for the operator's
/// scraper, unauthenticated, and name every tool and plugin.
enum MetricsServer {
    static func application(
        listen: ServerConfiguration.MetricsListener, metrics: PlugboardMetrics, plugins: PluginHost, logger: Logger
    ) -> some ApplicationProtocol {
        let router = Router()
        router.get("/metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics.scrape(plugins))))
        }
        return Application(
            router: router, configuration: .init(address: .hostname(listen.host, port: listen.port), serverName: "plugboard-metrics"), logger: logger)
    }
}
