import Crypto
import Foundation
import Logging
import PlugboardContracts
import PostgresNIO

/// Sets up and checks what makes PostgreSQL enforce per-owner scoping (README "PostgreSQL", verified
/// against the adversarial suite):
/// - declared owned tables get row-level security, enabled *and forced*, with one policy keyed
///   on the transaction-local setting `plugboard.owner`;
/// - each plugin gets a NOLOGIN role holding exactly its declared tables; the pool login (the
///   `query_url` user) is NOINHERIT, has no table privileges and only switches to a plugin role
///   per transaction;
/// - PUBLIC loses what would let a statement move the owner or smuggle rows between calls:
///   `set_config`, plpgsql `DO` blocks, temporary objects, large objects, advisory locks, catalogs;
/// - and every function through which one call could observe another call, other owners' rows
///   or the server's activity (`observingFunctions`), and any table, view or sequence of a schema
///   it can use. Those objects belong to the bootstrap superuser, so that part needs a superuser;
/// - a writing plugin's role may use only the sequences of its own owned tables' serial columns
///   (identity columns need no privilege at all), never the host's.
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

    /// The sequences owned by serial columns (`OWNED BY`) of tables in schema public, with their
    /// table: `[table: [sequence as regclass text]]` from the rows of this query. Identity columns'
    /// sequences are not listed: inserting through an identity column needs no privilege on it.
    /// The host's own (`plugboard_*`) never are.
    static let serialSequencesQuery = """
        SELECT t.relname::text, s.oid::regclass::text FROM pg_depend d
        JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
        JOIN pg_class t ON t.oid = d.refobjid
        WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a'
          AND t.relnamespace = 'public'::regnamespace AND s.relname NOT LIKE 'plugboard\\_%'
        """

    /// What the owner of the tables runs (no superuser needed): idempotent.
    /// - Parameter sequences: the serial sequences of each table (`serialSequencesQuery`).
    public func ownerStatements(for declarations: [PluginTables], sequences: [String: [String]] = [:]) -> [String] {
        let pool = Self.quote(queryRole)
        var statements = [
            "REVOKE ALL ON SCHEMA public FROM PUBLIC",
            "GRANT USAGE ON SCHEMA public TO CURRENT_USER",
            "REVOKE TEMPORARY, CREATE ON DATABASE \(Self.quote(database)) FROM PUBLIC",
            "GRANT CONNECT ON DATABASE \(Self.quote(database)) TO \(pool)",
            // What PUBLIC holds, every role holds, plugin roles included.
            "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC",
            "REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM PUBLIC",
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
                // Earlier versions granted every sequence of the schema, the host's included.
                "REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM \(role)",
                "GRANT USAGE ON SCHEMA public TO \(role)",
                "GRANT SELECT ON \(tables) TO \(role)",
            ]
            let writable = declaration.tables.filter { $0.ownerColumn != nil }.map(\.name)
            if declaration.writes, !writable.isEmpty {
                statements.append("GRANT INSERT, UPDATE, DELETE ON \(writable.map(Self.quote).joined(separator: ", ")) TO \(role)")
                // USAGE is what a serial column's DEFAULT nextval(...) needs; it also lets the
                // plugin call nextval() on it directly, which identity columns avoid.
                let owned = writable.flatMap { sequences[$0] ?? [] }
                if !owned.isEmpty {
                    statements.append("GRANT USAGE ON SEQUENCE \(owned.joined(separator: ", ")) TO \(role)")
                }
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
            // Objects of other owners (an extension's views, say): only a superuser revokes those.
            "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC",
            "REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM PUBLIC",
            // Found in the catalog rather than listed by signature: the signatures, and the
            // members of the pg_stat_* family, differ between PostgreSQL versions.
            """
            DO $pb$
            DECLARE f regprocedure;
            BEGIN
              FOR f IN SELECT p.oid FROM pg_catalog.pg_proc p WHERE \(Self.observingSelector) AND has_function_privilege('public', p.oid, 'EXECUTE') LOOP
                EXECUTE format('REVOKE EXECUTE ON ROUTINE %s FROM PUBLIC', f);
              END LOOP;
              FOR f IN SELECT p.oid FROM pg_catalog.pg_proc p WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname = ANY (\(Self.nameArray(Self.definitionFunctions))) LOOP
                EXECUTE format('GRANT EXECUTE ON ROUTINE %s TO %I', f, \(Self.literal(owner)));
              END LOOP;
            END
            $pb$
            """,
        ]
    }

    /// Functions PUBLIC may not execute, by name (every overload, in every schema), grouped by why:
    /// through each, one call could observe another call, other owners' rows or the server's
    /// activity, or run SQL text the statement gate never saw. README lists them, and why the
    /// functions left to PUBLIC are harmless.
    static let observingFunctions: [(why: String, names: [String])] = [
        (
            "state the connection keeps between calls (the host's prepared reads, sequence values, the random seed)",
            ["pg_prepared_statement", "pg_cursor", "currval", "lastval", "setseed", "pg_listening_channels", "current_query", "pg_backend_pid"]
        ),
        (
            "other sessions and the server's activity (the pg_stat_* family is matched by prefix)",
            [
                "pg_lock_status", "pg_blocking_pids", "pg_safe_snapshot_blocking_pids", "pg_isolation_test_session_is_blocked",
                "pg_cancel_backend", "pg_terminate_backend", "pg_notify", "pg_notification_queue_usage", "pg_prepared_xact",
                "pg_get_multixact_members", "pg_control_checkpoint", "pg_control_system", "pg_control_init", "pg_control_recovery",
                "pg_current_wal_lsn", "pg_current_wal_insert_lsn", "pg_current_wal_flush_lsn", "pg_last_wal_receive_lsn",
                "pg_last_wal_replay_lsn", "pg_last_xact_replay_timestamp", "pg_get_replication_slots", "pg_export_snapshot",
                "pg_logical_emit_message", "pg_create_physical_replication_slot", "pg_create_logical_replication_slot",
                "pg_drop_replication_slot", "pg_copy_physical_replication_slot", "pg_copy_logical_replication_slot",
                "pg_replication_slot_advance", "pg_logical_slot_get_changes", "pg_logical_slot_get_binary_changes",
                "pg_logical_slot_peek_changes", "pg_logical_slot_peek_binary_changes",
            ]
        ),
        (
            "the server's transaction counter and other transactions' fate (age(xid) is matched by signature)",
            [
                "txid_current", "txid_current_if_assigned", "txid_current_snapshot", "txid_status", "pg_current_xact_id",
                "pg_current_xact_id_if_assigned", "pg_current_snapshot", "pg_xact_status", "pg_xact_commit_timestamp",
                "pg_xact_commit_timestamp_origin", "pg_last_committed_xact", "mxid_age",
            ]
        ),
        ("sequences' positions and settings", ["pg_sequence_last_value", "pg_sequence_parameters"]),
        (
            "the size and storage of any relation (how much other owners hold), and row positions past row-level security",
            [
                "pg_relation_size", "pg_table_size", "pg_indexes_size", "pg_total_relation_size", "pg_database_size", "pg_tablespace_size",
                "pg_relation_filenode", "pg_relation_filepath", "pg_filenode_relation", "pg_tablespace_databases", "pg_tablespace_location",
                "currtid2",
            ]
        ),
        (
            "SQL text run from inside a statement, past the statement gate (ts_rewrite(tsquery, text) is matched by signature)",
            [
                "query_to_xml", "query_to_xml_and_xmlschema", "query_to_xmlschema", "cursor_to_xml", "cursor_to_xmlschema", "table_to_xml",
                "table_to_xml_and_xmlschema", "table_to_xmlschema", "schema_to_xml", "schema_to_xml_and_xmlschema", "schema_to_xmlschema",
                "database_to_xml", "database_to_xml_and_xmlschema", "database_to_xmlschema", "ts_stat",
            ]
        ),
        ("definitions of other objects, the catalogs' text without reading the catalogs (the owner keeps them)", definitionFunctions),
    ]

    static let definitionFunctions = [
        "pg_get_viewdef", "pg_get_ruledef", "pg_get_triggerdef", "pg_get_functiondef", "pg_get_function_sqlbody", "pg_get_function_arg_default",
        "pg_get_indexdef", "pg_get_constraintdef", "pg_get_expr", "pg_get_partkeydef", "pg_get_partition_constraintdef",
        "pg_get_statisticsobjdef", "pg_get_statisticsobjdef_columns", "pg_get_statisticsobjdef_expressions",
    ]

    /// Matched by name prefix: families whose members differ between versions.
    static let observingPrefixes = ["pg\\_stat\\_%", "pg\\_%advisory%"]
    /// Matched by signature: other overloads of these names are plain computations.
    static let observingSignatures = ["pg_catalog.age(xid)", "pg_catalog.ts_rewrite(tsquery, text)"]

    /// The functions of `observingFunctions` as a condition on `pg_proc p`.
    static var observingSelector: String {
        let names = nameArray(observingFunctions.flatMap(\.names))
        let prefixes = observingPrefixes.map { "p.proname LIKE \(literal($0))" }.joined(separator: " OR ")
        let signatures = observingSignatures.map { "to_regprocedure(\(literal($0)))" }.joined(separator: ", ")
        return "(p.proname = ANY (\(names)) OR \(prefixes) OR p.oid IN (\(signatures)))"
    }

    static func nameArray(_ names: [String]) -> String {
        "ARRAY[" + names.map(literal).joined(separator: ", ") + "]::name[]"
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
                "PUBLIC cannot execute the functions that observe other calls or the server (pg_prepared_statement, pg_stat_*, currval, lastval, pg_sequence_last_value …)",
                "NOT EXISTS (SELECT 1 FROM pg_proc p WHERE \(Self.observingSelector) AND has_function_privilege('public', p.oid, 'EXECUTE'))"
            ),
            (
                "PUBLIC can read no table, view or sequence (pg_stat_* and pg_statio_* views included)",
                """
                NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p', 'S') AND has_schema_privilege('public', c.relnamespace, 'USAGE')
                  AND (has_table_privilege('public', c.oid, 'SELECT') OR (c.relkind <> 'S' AND has_any_column_privilege('public', c.oid, 'SELECT'))
                       OR (c.relkind = 'S' AND has_sequence_privilege('public', c.oid, 'USAGE'))))
                """
            ),
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
        for declaration in declarations {
            // USAGE only on its own owned tables' serial sequences, and only for a writing plugin;
            // SELECT or UPDATE (setval) on none.
            let role = Self.literal(Self.role(for: declaration.plugin))
            let owned = declaration.writes ? declaration.tables.filter { $0.ownerColumn != nil }.map { Self.literal($0.name) } : []
            let allowed =
                owned.isEmpty
                ? "false"
                : "s.relname NOT LIKE 'plugboard\\_%' AND EXISTS (SELECT 1 FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid WHERE d.classid = 'pg_class'::regclass AND d.objid = s.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a' AND t.relnamespace = 'public'::regnamespace AND t.relname IN (\(owned.joined(separator: ", "))))"
            checks.append(
                (
                    "plugin '\(declaration.plugin)''s role may use no sequence but its owned tables' serial ones",
                    "NOT EXISTS (SELECT 1 FROM pg_class s WHERE s.relkind = 'S' AND (has_sequence_privilege(\(role), s.oid, 'SELECT') OR has_sequence_privilege(\(role), s.oid, 'UPDATE') OR (has_sequence_privilege(\(role), s.oid, 'USAGE') AND NOT (\(allowed)))))"
                ))
        }
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
