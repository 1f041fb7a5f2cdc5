"""Two users, one database: each sees only their own projects and meetings, through the official
MCP client, in both protocol eras. Until OAuth lands, a user is the server's auth.local_owner, so
two servers (alice's and bob's) share one SQLite database seeded with the demo data."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from support import REPO_ROOT, connect, plugin_manifest, text_of

SEED = REPO_ROOT / "examples" / "demo" / "sqlite.sql"
pytestmark = pytest.mark.anyio

DATA_PLUGINS = {"projects": plugin_manifest("projects"), "meetings": plugin_manifest("meetings")}


@pytest.fixture
def two_users(make_server, tmp_path: Path):
    database = f"sqlite:{tmp_path / 'shared.db'}"
    alice = make_server("alice", DATA_PLUGINS, local_owner="alice", database=database, seed=SEED)
    bob = make_server("bob", DATA_PLUGINS, local_owner="bob", database=database, seed=SEED)
    return alice, bob


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
    tail = subprocess.run(
        [str(alice.binary), "audit", "tail", "-n", "10", "--config", str(alice.config_path)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    calls = [line for line in tail if "projects/get_project" in line]
    assert any("  alice  " in line and "  ok  rows=1 " in line for line in calls), tail
    assert any("  bob  " in line and "  tool_error  rows=0 " in line for line in calls), tail
