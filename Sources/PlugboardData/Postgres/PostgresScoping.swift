import Crypto
import Foundation
import Logging
import PlugboardPlugins
import PostgresNIO

/// Sets up and checks what makes PostgreSQL enforce per-owner scoping (DESIGN §3, verified
/// against the adversarial suite):
/// - declared owned tables get row-level security, enabled *and forced*, with one policy keyed
///   on the transaction-local setting `plugboard.owner`;
/// - each plugin gets a NOLOGIN role holding exactly its declared tables; the pool login (the
///   `query_url` user) is NOINHERIT, has no table privileges and only switches to a plugin role
///   per transaction;
/// - PUBLIC loses what would let a statement move the owner or smuggle rows between calls:
///   `set_config`, plpgsql `DO` blocks, temporary objects, large objects, advisory locks, catalogs.
///   Those objects belong to the bootstrap superuser, so that part needs a superuser.
public struct PostgresScoping: Sendable {
    /// The pool login plugin queries run as.
    public let queryRole: String
    /// The database the plugins' tables live in.
    public let database: String

    public init(queryRole: String, database: String) {
        self.queryRole = queryRole
        self.database = database
    }

    /// The role a plugin's queries run as: a hash, because plugin names may exceed PostgreSQL's
    /// 63-byte identifiers and two truncated names must never share a role.
    public static func role(for plugin: String) -> String {
        "pb_plugin_" + SHA256.hash(data: Data(plugin.utf8)).prefix(8).hexString
    }

    static func quote(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func literal(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// What the owner of the tables runs (no superuser needed): idempotent.
    public func ownerStatements(for declarations: [PluginTables]) -> [String] {
        let pool = Self.quote(queryRole)
        var statements = [
            "REVOKE ALL ON SCHEMA public FROM PUBLIC",
            "GRANT USAGE ON SCHEMA public TO CURRENT_USER",
            "REVOKE TEMPORARY, CREATE ON DATABASE \(Self.quote(database)) FROM PUBLIC",
            "GRANT CONNECT ON DATABASE \(Self.quote(database)) TO \(pool)",
        ]
        var owned: [String: String] = [:]
        for declaration in declarations {
            for table in declaration.tables {
                if let column = table.ownerColumn { owned[table.name] = column }
            }
        }
        for (table, column) in owned.sorted(by: { $0.key < $1.key }) {
            let t = Self.quote(table)
            let condition = "(\(Self.quote(column)) = NULLIF(current_setting('plugboard.owner', true), ''))"
            statements += [
                "ALTER TABLE \(t) ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY",
                "DROP POLICY IF EXISTS pb_owner_scope ON \(t)",
                "CREATE POLICY pb_owner_scope ON \(t) FOR ALL TO PUBLIC USING \(condition) WITH CHECK \(condition)",
            ]
        }
        for declaration in declarations {
            let role = Self.quote(Self.role(for: declaration.plugin))
            let tables = declaration.tables.map { Self.quote($0.name) }.joined(separator: ", ")
            statements += [
                "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM \(role)",
                "GRANT USAGE ON SCHEMA public TO \(role)",
                "GRANT SELECT ON \(tables) TO \(role)",
            ]
            let writable = declaration.tables.filter { $0.ownerColumn != nil }.map { Self.quote($0.name) }
            if declaration.writes, !writable.isEmpty {
                statements.append("GRANT INSERT, UPDATE, DELETE ON \(writable.joined(separator: ", ")) TO \(role)")
                statements.append("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO \(role)")
            }
            statements.append("GRANT \(role) TO \(pool)")
        }
        return statements
    }

    /// What only a superuser can run (the objects belong to the bootstrap superuser). Per database.
    public func superuserStatements(owner: String) -> [String] {
        let keepers = "\(Self.quote(queryRole)), \(Self.quote(owner))"
        return [
            "REVOKE EXECUTE ON FUNCTION pg_catalog.set_config(text, text, boolean) FROM PUBLIC",
            "GRANT EXECUTE ON FUNCTION pg_catalog.set_config(text, text, boolean) TO \(keepers)",
            "REVOKE USAGE ON LANGUAGE plpgsql FROM PUBLIC",
            "GRANT USAGE ON LANGUAGE plpgsql TO \(Self.quote(owner))",
            """
            REVOKE EXECUTE ON FUNCTION pg_catalog.lo_create(oid), pg_catalog.lo_creat(integer), pg_catalog.lo_from_bytea(oid, bytea),
              pg_catalog.lo_open(oid, integer), pg_catalog.lo_close(integer), pg_catalog.loread(integer, integer),
              pg_catalog.lowrite(integer, bytea), pg_catalog.lo_lseek(integer, integer, integer), pg_catalog.lo_lseek64(integer, bigint, integer),
              pg_catalog.lo_tell(integer), pg_catalog.lo_tell64(integer), pg_catalog.lo_unlink(oid), pg_catalog.lo_truncate(integer, integer),
              pg_catalog.lo_truncate64(integer, bigint), pg_catalog.lo_get(oid), pg_catalog.lo_get(oid, bigint, integer),
              pg_catalog.lo_put(oid, bigint, bytea) FROM PUBLIC
            """,
            """
            REVOKE EXECUTE ON FUNCTION pg_catalog.pg_advisory_lock(bigint), pg_catalog.pg_advisory_lock(integer, integer),
              pg_catalog.pg_advisory_lock_shared(bigint), pg_catalog.pg_advisory_lock_shared(integer, integer),
              pg_catalog.pg_try_advisory_lock(bigint), pg_catalog.pg_try_advisory_lock(integer, integer),
              pg_catalog.pg_try_advisory_lock_shared(bigint), pg_catalog.pg_try_advisory_lock_shared(integer, integer) FROM PUBLIC
            """,
            "REVOKE SELECT ON ALL TABLES IN SCHEMA pg_catalog, information_schema FROM PUBLIC",
            "GRANT SELECT ON ALL TABLES IN SCHEMA pg_catalog, information_schema TO \(keepers)",
        ]
    }

    /// Checks that must all hold before plugin queries are served; each returns true when fine.
    /// A non-superuser REVOKE only warns and succeeds, so the outcome is checked, not the exit status.
    public func checks(for declarations: [PluginTables]) -> [(String, String)] {
        let pool = Self.literal(queryRole)
        let ownedTables = Set(declarations.flatMap { $0.tables.filter { $0.ownerColumn != nil }.map(\.name) })
        let tableList = ownedTables.sorted().map(Self.literal).joined(separator: ", ")
        var checks: [(String, String)] = [
            ("PUBLIC cannot execute set_config", "NOT has_function_privilege('public', 'pg_catalog.set_config(text,text,boolean)', 'EXECUTE')"),
            ("the query login can execute set_config", "has_function_privilege(\(pool), 'pg_catalog.set_config(text,text,boolean)', 'EXECUTE')"),
            ("PUBLIC cannot run DO blocks (plpgsql)", "NOT has_language_privilege('public', 'plpgsql', 'USAGE')"),
            ("PUBLIC cannot create temporary objects", "NOT has_database_privilege('public', current_database(), 'TEMPORARY')"),
            ("PUBLIC cannot create in schema public", "NOT has_schema_privilege('public', 'public', 'CREATE')"),
            ("PUBLIC cannot create large objects", "NOT has_function_privilege('public', 'pg_catalog.lo_from_bytea(oid,bytea)', 'EXECUTE')"),
            ("PUBLIC cannot take advisory locks", "NOT has_function_privilege('public', 'pg_catalog.pg_advisory_lock(bigint)', 'EXECUTE')"),
            ("PUBLIC cannot read the catalogs", "NOT has_table_privilege('public', 'pg_catalog.pg_class', 'SELECT')"),
            (
                "the query login is LOGIN NOINHERIT, no superuser, no BYPASSRLS, no CREATEROLE",
                "EXISTS (SELECT 1 FROM pg_roles WHERE rolname = \(pool) AND rolcanlogin AND NOT rolinherit AND NOT rolsuper AND NOT rolbypassrls AND NOT rolcreaterole)"
            ),
            (
                "the query login holds no table privileges",
                "NOT EXISTS (SELECT 1 FROM information_schema.role_table_grants WHERE grantee = \(pool) AND table_schema NOT IN ('pg_catalog', 'information_schema'))"
            ),
            (
                "plugin roles cannot log in and bypass nothing",
                "NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname LIKE 'pb\\_plugin\\_%' AND (r.rolcanlogin OR r.rolsuper OR r.rolbypassrls OR EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner = r.oid)))"
            ),
        ]
        if !ownedTables.isEmpty {
            checks += [
                (
                    "owned tables have row-level security enabled and forced",
                    "NOT EXISTS (SELECT 1 FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relname IN (\(tableList)) AND NOT (relrowsecurity AND relforcerowsecurity))"
                ),
                (
                    "owned tables are not owned by a superuser or BYPASSRLS role",
                    "NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE c.relnamespace = 'public'::regnamespace AND c.relname IN (\(tableList)) AND (r.rolsuper OR r.rolbypassrls))"
                ),
                (
                    "owned tables carry the owner policy and no other",
                    "(SELECT count(*) FROM pg_policies WHERE schemaname = 'public' AND policyname = 'pb_owner_scope' AND tablename IN (\(tableList)) AND qual LIKE '%current_setting(''plugboard.owner''::text, true)%' AND with_check = qual AND cmd = 'ALL' AND roles = '{public}') = \(ownedTables.count) AND NOT EXISTS (SELECT 1 FROM pg_policies WHERE schemaname = 'public' AND tablename IN (\(tableList)) AND policyname <> 'pb_owner_scope')"
                ),
            ]
        }
        return checks
    }
}

/// Why scoping cannot be served, and what to run to fix it.
public struct PostgresScopingProblem: Error, Sendable, CustomStringConvertible {
    public let failedChecks: [String]
    /// SQL a superuser must run, when the configured user could not.
    public let superuserSQL: [String]

    public var description: String {
        var text = "PostgreSQL scoping is not set up: " + failedChecks.joined(separator: "; ")
        if !superuserSQL.isEmpty {
            text += ". Run `plugboard migrate` with database.superuser_url set to a superuser login, or run as a superuser in the database:\n"
                + superuserSQL.map { $0 + ";" }.joined(separator: "\n")
        }
        return text
    }
}
