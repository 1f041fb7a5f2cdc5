import PlugboardData
import PlugboardServer
import Testing

@Suite("config.yaml: database and data")
struct DatabaseConfigurationTests {
    func parse(_ yaml: String) throws(ConfigurationError) -> ServerConfiguration {
        try ConfigurationLoader.parse(yaml: "plugins: { state_dir: /srv/state }\n" + yaml, file: "/srv/config.yaml")
    }

    func refusal(_ yaml: String) -> ConfigurationError? {
        do {
            _ = try parse(yaml)
            return nil
        } catch {
            return error
        }
    }

    @Test("without a database section, state and data share the embedded SQLite file")
    func defaults() throws {
        let configuration = try parse("")
        #expect(configuration.database == .sqlite(path: "/srv/state/plugboard.db"))
        #expect(configuration.data.source == .sqlite(path: "/srv/state/plugboard.db"))
        #expect(configuration.data.seed == nil)
    }

    @Test("one PostgreSQL database: the url's user owns the tables, query_url runs plugin queries")
    func postgres() throws {
        let configuration = try parse(
            """
            database:
              url: postgres://app_owner:secret@db:5433/app
              query_url: postgres://pb_query@db:5433/app
              seed: demo.sql
            """)
        let owner = try PostgresLocation(url: "postgres://app_owner:secret@db:5433/app")
        #expect(configuration.database == .postgres(owner))
        #expect(configuration.data.source == .postgres(owner: owner, query: try PostgresLocation(url: "postgres://pb_query@db:5433/app"), superuser: nil))
        #expect(configuration.data.seed == "/srv/demo.sql")
    }

    @Test("a data section moves the plugins' tables to another database")
    func separateData() throws {
        let configuration = try parse(
            """
            database:
              url: sqlite:state.db
            data:
              url: postgres://app_owner@db/app
              query_url: postgres://pb_query@db/app
              superuser_url: postgres://postgres@db/app
            """)
        #expect(configuration.database == .sqlite(path: "/srv/state.db"))
        #expect(
            configuration.data.source
                == .postgres(
                    owner: try PostgresLocation(url: "postgres://app_owner@db/app"), query: try PostgresLocation(url: "postgres://pb_query@db/app"),
                    superuser: try PostgresLocation(url: "postgres://postgres@db/app")))
    }

    @Test("mistakes are refused at their line, with the fix")
    func refusals() {
        let missingQuery = refusal("database:\n  url: postgres://app_owner@db/app\n")
        #expect(missingQuery?.line == 3)
        #expect(missingQuery?.reason.contains("database.query_url must name the restricted login") == true)

        let sameUser = refusal("database:\n  url: postgres://app_owner@db/app\n  query_url: postgres://app_owner@db/app\n")
        #expect(sameUser?.line == 4)
        #expect(sameUser?.reason.contains("must log in as another user than database.url") == true)

        let sqliteQuery = refusal("database:\n  url: sqlite:x.db\n  query_url: postgres://pb_query@db/app\n")
        #expect(sqliteQuery?.reason.contains("apply to PostgreSQL only") == true)

        let splitKeys = refusal("database:\n  url: sqlite:x.db\n  seed: demo.sql\ndata:\n  url: sqlite:data.db\n")
        #expect(splitKeys?.line == 4)
        #expect(splitKeys?.reason.contains("seed") == true)

        let noDataURL = refusal("data:\n  seed: demo.sql\n")
        #expect(noDataURL?.reason.contains("data.url is missing") == true)

        let badURL = refusal("database:\n  url: mysql://db/app\n")
        #expect(badURL?.reason.contains("expected sqlite:<path> or postgres://") == true)

        let badTLS = refusal("database:\n  url: postgres://a@db/app?sslmode=verify-ca\n  query_url: postgres://b@db/app\n")
        #expect(badTLS?.reason.contains("sslmode 'verify-ca' is not supported") == true)
    }
}
