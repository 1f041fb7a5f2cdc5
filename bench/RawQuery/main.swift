// The data benchmark's baseline: what a hand-written MCP server over PostgreSQL does for
// `list_projects` - decode the JSON-RPC request, run the page query with the owner filter written
// into it, encode the rows - through a PostgresNIO pool and nothing else: no transaction, no
// row-level security, no plugin. POST /mcp sends the query the way PostgresNIO's `query` does
// (parsed and planned on every call); POST /mcp-prepared as a prepared statement.
// Usage: bench-raw-query PORT POSTGRES-URL OWNER
import Foundation
import Hummingbird
import PostgresNIO

// Each baseline is a self-contained program with no module of its own to share: its JSON-RPC
// types are written out here, as a hand-written server would have them.
struct CallRequest: Decodable {
    struct Params: Decodable {
        struct Arguments: Decodable {
            let limit: Int?
        }

        let name: String
        let arguments: Arguments
    }

    let id: Int
    let params: Params
}

struct Project: Encodable {
    let id: Int
    let name: String
    let customer_id: Int
    let customer: String
    let status: String
    let budget: Double
    let currency: String
    let created_at: String
}

struct Page: Encodable {
    let projects: [Project]
    let next_cursor: String?
}

struct CallResponse: Encodable {
    struct Content: Encodable {
        let type: String
        let text: String
    }

    struct Result: Encodable {
        let content: [Content]
        let structuredContent: Page
    }

    let jsonrpc: String
    let id: Int
    let result: Result
}

let arguments = CommandLine.arguments
guard arguments.count == 4, let port = Int(arguments[1]), let url = URLComponents(string: arguments[2]), let user = url.user else {
    fatalError("usage: bench-raw-query PORT postgres://user@host:port/database OWNER")
}
let owner = arguments[3]
let client = PostgresClient(
    configuration: .init(
        host: url.host ?? "127.0.0.1", port: url.port ?? 5432, username: user, password: url.password, database: String(url.path.dropFirst()), tls: .disable))

/// The page query as a prepared statement: parsed and planned once per connection.
struct PageQuery: PostgresPreparedStatement {
    static let sql = """
        SELECT p.id, p.name, p.customer_id, c.name AS customer, p.status, p.budget, p.currency, p.created_at
        FROM projects p JOIN customers c ON c.id = p.customer_id AND c.owner_id = p.owner_id
        WHERE p.owner_id = $1 AND p.id > $2 ORDER BY p.id LIMIT $3
        """
    typealias Row = (Int, String, Int, String, String, Double, String, String)
    let owner: String
    let limit: Int

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings()
        bindings.append(owner)
        bindings.append(0)
        bindings.append(limit + 1)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }
}

/// Decodes the call, gets the rows, answers with the page.
@Sendable func answer(_ request: Request, rows: (Int) async throws -> [PageQuery.Row]) async throws -> Response {
    let body = try await request.body.collect(upTo: 1 << 20)
    let call = try JSONDecoder().decode(CallRequest.self, from: Data(buffer: body))
    let limit = min(max(call.params.arguments.limit ?? 20, 1), 50)
    let projects = try await rows(limit).map { id, name, customerID, customer, status, budget, currency, createdAt in
        Project(id: id, name: name, customer_id: customerID, customer: customer, status: status, budget: budget, currency: currency, created_at: createdAt)
    }
    let page = Page(projects: Array(projects.prefix(limit)), next_cursor: projects.count > limit ? "after-\(projects[limit - 1].id)" : nil)
    let text = String(decoding: try JSONEncoder().encode(page), as: UTF8.self)
    let answer = CallResponse(jsonrpc: "2.0", id: call.id, result: .init(content: [.init(type: "text", text: text)], structuredContent: page))
    return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(answer))))
}

let router = Router()
router.post("/mcp") { request, context -> Response in
    try await answer(request) { limit in
        let rows = try await client.query(
            """
            SELECT p.id, p.name, p.customer_id, c.name AS customer, p.status, p.budget, p.currency, p.created_at
            FROM projects p JOIN customers c ON c.id = p.customer_id AND c.owner_id = p.owner_id
            WHERE p.owner_id = \(owner) AND p.id > \(0) ORDER BY p.id LIMIT \(limit + 1)
            """)
        var page: [PageQuery.Row] = []
        for try await row in rows.decode(PageQuery.Row.self) { page.append(row) }
        return page
    }
}
router.post("/mcp-prepared") { request, context -> Response in
    try await answer(request) { limit in
        var page: [PageQuery.Row] = []
        for try await row in try await client.execute(PageQuery(owner: owner, limit: limit)) { page.append(row) }
        return page
    }
}
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await withThrowingDiscardingTaskGroup { group in
    group.addTask { await client.run() }
    try await app.runService()
    group.cancelAll()  // the pool runs until cancelled
}
