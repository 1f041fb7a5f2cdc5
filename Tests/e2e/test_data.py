"""Two users, one database: each sees only their own projects and meetings, through the official
MCP client, in both protocol eras, on SQLite and on PostgreSQL. Until OAuth lands, a user is the
server's auth.local_owner, so two servers (alice's and bob's) share one database seeded with the
demo data."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from support import REPO_ROOT, TEST_POSTGRES, PlugboardServer, connect, free_port, fresh_postgres_database, plugin_manifest, text_of

DEMO = REPO_ROOT / "examples" / "demo"
pytestmark = pytest.mark.anyio

DATA_PLUGINS = {"projects": plugin_manifest("projects"), "meetings": plugin_manifest("meetings")}


@pytest.fixture(params=["sqlite", "postgres", "split"])
def two_users(request, make_server, tmp_path: Path):
    """alice's and bob's servers over one database: SQLite, PostgreSQL, or (split) each server's
    own SQLite file for its state with the plugins' tables in PostgreSQL (a data: section)."""
    if request.param == "sqlite":
        database = f"sqlite:{tmp_path / 'shared.db'}"
        options = {"database": database, "seed": DEMO / "sqlite.sql"}
        return tuple(make_server(user, DATA_PLUGINS, local_owner=user, **options) for user in ("alice", "bob"))
    if not TEST_POSTGRES:
        pytest.skip("needs PLUGBOARD_TEST_POSTGRES (scripts/test starts a cluster)")
    if request.param == "postgres":
        options = {"database": fresh_postgres_database(), "seed": DEMO / "postgres.sql"}
        return tuple(make_server(user, DATA_PLUGINS, local_owner=user, **options) for user in ("alice", "bob"))
    data = fresh_postgres_database() | {"seed": str(DEMO / "postgres.sql")}
    return tuple(make_server(user, DATA_PLUGINS, local_owner=user, database=f"sqlite:{tmp_path / f'{user}.db'}", data=data) for user in ("alice", "bob"))


async def all_projects(client) -> list[dict]:
    """Every project through list_projects, following next_cursor."""
    projects, cursor = [], None
    while True:
        arguments = {"limit": 20} | ({"cursor": cursor} if cursor else {})
        result = await client.call_tool("list_projects", arguments)
        assert not result.is_error, text_of(result)
        page = result.structured_content
        projects += page["projects"]
        cursor = page.get("next_cursor")
        if cursor is None:
            return projects


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_each_user_sees_only_their_rows(two_users, mode):
    alice, bob = two_users
    async with connect(alice.url, mode) as as_alice, connect(bob.url, mode) as as_bob:
        alice_projects = await all_projects(as_alice)
        bob_projects = await all_projects(as_bob)
        assert [p["id"] for p in alice_projects] == list(range(1, 33))
        assert all(p["name"].startswith("Alice project") for p in alice_projects)
        assert [p["id"] for p in bob_projects] == list(range(33, 57))
        assert all(p["name"].startswith("Bob project") for p in bob_projects)
        assert {p["customer"] for p in bob_projects} == {"Umbrella Health", "Stark Logistics"}

        # Another owner's id is "not found", never "forbidden".
        own = await as_bob.call_tool("get_project", {"id": 40})
        assert not own.is_error and own.structured_content["name"] == "Bob project 8"
        other = await as_alice.call_tool("get_project", {"id": 40})
        assert other.is_error
        assert text_of(other) == "Not found: there is no project 40; list_projects shows the ones you can see"
        assert "Bob" not in text_of(other)

        # The resource template is scoped the same way.
        read = await as_alice.read_resource("projects://5")
        assert '"name":"Alice project 5"' in read.contents[0].text
        with pytest.raises(Exception):
            await as_alice.read_resource("projects://40")

        alice_meetings = await as_alice.call_tool("list_meetings", {"limit": 50})
        ids = [m["id"] for m in alice_meetings.structured_content["meetings"]]
        assert ids == list(range(1, 51)) and alice_meetings.structured_content["next_cursor"] == "after-50"
        bob_summary = await as_bob.call_tool("get_engagement_summary", {"project_id": 40})
        assert [m["meeting_id"] for m in bob_summary.structured_content["meetings"]] == [79, 80]
        assert all(m["frames"] > 0 for m in bob_summary.structured_content["meetings"])
        stolen = await as_alice.call_tool("get_engagement_summary", {"project_id": 40})
        assert stolen.is_error and "no such meeting or project among yours" in text_of(stolen)
        frames = await as_alice.call_tool("get_engagement_frames", {"meeting_id": 80, "from_second": 0, "to_second": 3600})
        assert frames.structured_content["frames"] == []


async def test_raw_frames_are_capped_with_advice(two_users):
    alice, _ = two_users
    async with connect(alice.url, "legacy") as client:
        result = await client.call_tool("get_engagement_frames", {"meeting_id": 1, "from_second": 0, "to_second": 100000, "limit": 300})
        page = result.structured_content
        assert len(page["frames"]) == 300
        assert "Only the first 300 frames are shown" in page["more"] and "get_engagement_summary" in page["more"]
        # The next window starts where this one stopped (meeting 1: 3 frames every 20 s).
        assert "from_second 2000 continues it" in page["more"]
        too_many = await client.call_tool("get_engagement_frames", {"meeting_id": 1, "from_second": 0, "to_second": 100000, "limit": 500})
        assert too_many.is_error and "limit" in text_of(too_many)


async def test_the_audit_log_records_every_call(two_users):
    alice, bob = two_users
    async with connect(alice.url, "legacy") as as_alice, connect(bob.url, "legacy") as as_bob:
        await as_alice.call_tool("get_project", {"id": 1})
        await as_bob.call_tool("get_project", {"id": 1})
    alice.stop()  # the audit log is flushed at shutdown
    bob.stop()
    # Each server's state database holds its own calls (split) or both servers' (shared).
    tail = [
        line
        for server in (alice, bob)
        for line in subprocess.run(
            [str(server.binary), "audit", "tail", "-n", "10", "--config", str(server.config_path)], capture_output=True, text=True, check=True
        ).stdout.splitlines()
    ]
    calls = [line for line in tail if "projects/get_project" in line]
    assert any("  alice  " in line and "  ok  rows=1 " in line for line in calls), tail
    assert any("  bob  " in line and "  tool_error  rows=0 " in line for line in calls), tail


def test_migrate_hands_the_superuser_step_to_a_dba(tmp_path: Path, artifacts_dir: Path):
    """Without a superuser login, `plugboard migrate` does the owner's part, then names each failed
    check and prints the SQL a DBA runs; once it has run, migrate reports every plugin ready."""
    if not TEST_POSTGRES:
        pytest.skip("needs PLUGBOARD_TEST_POSTGRES (scripts/test starts a cluster)")
    database = fresh_postgres_database(superuser=False)
    server = PlugboardServer("migrate-dba", tmp_path, artifacts_dir, DATA_PLUGINS, database=database, seed=DEMO / "postgres.sql")
    server.write_plugins()
    server.write_config(free_port())
    migrate = [str(server.binary), "migrate", "--config", str(server.config_path)]

    first = subprocess.run(migrate, capture_output=True, text=True)
    assert first.returncode == 1, first.stdout + first.stderr
    assert "applied migration 1 audit log" in first.stdout and "seeded from" in first.stdout
    assert "scoping NOT ready for plugins meetings, projects: PostgreSQL scoping is not set up" in first.stdout
    assert first.stdout.count("REVOKE EXECUTE ON FUNCTION pg_catalog.set_config") == 1
    assert "PUBLIC cannot execute set_config" in first.stdout
    script = first.stdout[first.stdout.index("REVOKE EXECUTE ON FUNCTION pg_catalog.set_config") :]
    script = script[: script.rindex(";") + 1]

    host, port = TEST_POSTGRES.rsplit(":", 1)
    name = database["url"].rsplit("/", 1)[1]
    subprocess.run(
        ["psql", "-q", "-h", host, "-p", port, "-U", "postgres", "-d", name, "-v", "ON_ERROR_STOP=1"], input=script, text=True, check=True, capture_output=True
    )

    second = subprocess.run(migrate, capture_output=True, text=True)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "schema up to date" in second.stdout and "already applied" in second.stdout
    assert "scoping ready for plugin projects: projects, customers, currencies" in second.stdout
    assert "scoping ready for plugin meetings: meetings, engagement_frames" in second.stdout
