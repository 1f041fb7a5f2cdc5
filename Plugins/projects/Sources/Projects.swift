import PlugboardKit

/// The projects of a Django-style app, read through the host's scoped queries: every query sees
/// only the caller's rows, whatever it says.
@c(plugboard_plugin_v1)
public func plugboardPlugin() -> UnsafePointer<pb_plugin> {
    Plugboard.export(name: "projects", version: "1.0.0") { plugin in
        plugin.tool("projects.list") { (arguments: ListProjects, call) in
            let limit = min(max(arguments.limit ?? 20, 1), 50)
            let after = try PageCursor.decode(arguments.cursor)
            var sql = "SELECT p.id, p.name, p.customer_id, c.name AS customer, p.status, p.budget, p.currency, p.created_at "
                + "FROM projects p JOIN customers c ON c.id = p.customer_id WHERE p.id > $1"
            var parameters: [QueryValue] = [.int(after)]
            if let customer = arguments.customerID {
                parameters.append(.int(customer))
                sql += " AND p.customer_id = $\(parameters.count)"
            }
            parameters.append(.int(Int64(limit + 1)))
            sql += " ORDER BY p.id LIMIT $\(parameters.count)"
            let result = try await call.query(sql, parameters)
            let projects = result.rows.prefix(limit).map(Project.init)
            let next = result.rows.count > limit ? projects.last.map { PageCursor.encode(after: $0.id) } : nil
            return .structured(ProjectPage(projects: Array(projects), nextCursor: next))
        }

        plugin.tool("projects.get") { (arguments: GetProject, call) in
            guard let project = try await project(arguments.id, call) else {
                // Another owner's project does not exist for this caller: "not found", never "forbidden".
                throw NotFound("there is no project \(arguments.id); list_projects shows the ones you can see")
            }
            return .structured(project)
        }

        plugin.resource("projects.read") { request, call in
            guard let id = request.parameters["id"].flatMap(Int64.init), let project = try await project(id, call) else {
                throw NotFound("no project \(request.parameters["id"] ?? "")")
            }
            return try .json(project)
        }
    }
}

func project(_ id: Int64, _ call: CallContext) async throws -> Project? {
    let result = try await call.query(
        "SELECT p.id, p.name, p.customer_id, c.name AS customer, p.status, p.budget, p.currency, p.created_at "
            + "FROM projects p JOIN customers c ON c.id = p.customer_id WHERE p.id = $1",
        [.int(id)])
    return result.rows.first.map(Project.init)
}

struct ListProjects: Decodable, Sendable {
    let customerID: Int64?
    let limit: Int?
    let cursor: String?

    enum CodingKeys: String, CodingKey {
        case customerID = "customer_id"
        case limit, cursor
    }
}

struct GetProject: Decodable, Sendable {
    let id: Int64
}

struct Project: Encodable, Sendable {
    let id: Int64
    let name: String
    let customerID: Int64
    let customer: String
    let status: String
    let budget: Double
    let currency: String
    let createdAt: String

    enum CodingKeys: String, CodingKey {
        case id, name, customer, status, budget, currency
        case customerID = "customer_id"
        case createdAt = "created_at"
    }

    init(_ row: [QueryValue]) {
        id = row[0].integer ?? 0
        name = row[1].string ?? ""
        customerID = row[2].integer ?? 0
        customer = row[3].string ?? ""
        status = row[4].string ?? ""
        budget = row[5].number ?? 0
        currency = row[6].string ?? ""
        createdAt = row[7].string ?? ""
    }
}

struct ProjectPage: Encodable {
    let projects: [Project]
    /// Pass back as `cursor` for the next page; absent on the last page.
    let nextCursor: String?

    enum CodingKeys: String, CodingKey {
        case projects
        case nextCursor = "next_cursor"
    }
}

/// Keyset pagination: the cursor names the last id of the previous page.
enum PageCursor {
    static func encode(after id: Int64) -> String { "after-\(id)" }

    static func decode(_ cursor: String?) throws -> Int64 {
        guard let cursor else { return 0 }
        guard cursor.hasPrefix("after-"), let id = Int64(cursor.dropFirst(6)) else {
            throw InvalidArguments("cursor '\(cursor)' is not one this tool returned; leave it out for the first page")
        }
        return id
    }
}
