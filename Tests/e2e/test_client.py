"""The official MCP Python SDK against a real server, in both protocol eras.

Every test runs twice: `[legacy]` (initialize handshake, 2025-11-25) and `[modern]` (2026-07-28,
stateless, per-request _meta and headers).
"""

from __future__ import annotations

import json
import uuid

import anyio
import pytest
from mcp.shared.exceptions import MCPError
from mcp_types import PromptReference

from support import (
    DEMO_TOOLS,
    ECHO_C_TOOLS,
    INSTRUCTIONS,
    LEGACY,
    MISBEHAVING_TOOLS,
    MODERN,
    NOTES_TOOLS,
    SERVER_NAME,
    connect,
    text_of,
)

pytestmark = pytest.mark.anyio

ALL_TOOLS = DEMO_TOOLS + ECHO_C_TOOLS + MISBEHAVING_TOOLS + NOTES_TOOLS


@pytest.fixture(params=[pytest.param("legacy", id="legacy"), pytest.param(MODERN, id="modern")])
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


async def test_connects_in_the_requested_era(server, mode):
    async with connect(server.url, mode) as client:
        if mode == "legacy":
            assert client.protocol_version == LEGACY
            assert client.server_info is not None and client.server_info.name == SERVER_NAME
            assert client.instructions is not None and client.instructions.strip() == INSTRUCTIONS
        else:
            assert client.protocol_version == MODERN
            result = await client.call_tool("say", {"text": "era"})
            # 2026-07-28 results name the server that answered.
            assert result.meta is not None
            assert result.meta["io.modelcontextprotocol/serverInfo"]["name"] == SERVER_NAME


async def test_auto_mode_discovers_the_modern_era(server):
    # mode="auto" probes server/discover and adopts 2026-07-28 from its supportedVersions.
    async with connect(server.url, "auto") as client:
        assert client.protocol_version == MODERN
        assert client.server_info is not None and client.server_info.name == SERVER_NAME
        result = await client.call_tool("say", {"text": "auto"})
    assert text_of(result) == "auto"


async def test_list_tools(server, mode):
    async with connect(server.url, mode) as client:
        listing = await client.list_tools()
    names = [tool.name for tool in listing.tools]
    assert sorted(names) == sorted(ALL_TOOLS)
    assert len(names) == len(set(names))
    assert listing.next_cursor is None
    statistics = next(tool for tool in listing.tools if tool.name == "statistics")
    assert statistics.title == "Summary statistics"
    assert statistics.output_schema is not None
    assert statistics.output_schema["required"] == ["count", "mean", "median", "min", "max"]
    assert statistics.input_schema["required"] == ["values"]


async def test_say(server, mode):
    async with connect(server.url, mode) as client:
        result = await client.call_tool("say", {"text": f"hello from {mode}"})
    assert result.is_error is False
    assert text_of(result) == f"hello from {mode}"


async def test_statistics_structured_content(server, mode):
    async with connect(server.url, mode) as client:
        result = await client.call_tool("statistics", {"values": [4, 1, 10, 2, 3]})
    assert result.is_error is False
    assert result.structured_content == {"count": 5, "mean": 4.0, "median": 3.0, "min": 1.0, "max": 10.0}
    assert isinstance(result.structured_content["count"], int)


async def test_divide(server, mode):
    async with connect(server.url, mode) as client:
        ok = await client.call_tool("divide", {"dividend": 7, "divisor": 2})
        by_zero = await client.call_tool("divide", {"dividend": 1, "divisor": 0})
    assert ok.is_error is False
    assert ok.structured_content == {"quotient": 3.5}
    assert by_zero.is_error is True
    assert by_zero.structured_content is None
    assert text_of(by_zero) == "Cannot divide by zero: pass a non-zero 'divisor'."


async def test_countdown_reports_progress(server, mode):
    updates: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, total, message))

    async with connect(server.url, mode) as client:
        with anyio.fail_after(15):
            result = await client.call_tool("countdown", {"steps": 3, "delay_ms": 20}, progress_callback=on_progress)
    assert result.is_error is False
    assert text_of(result) == "Counted down 3 steps."
    assert [u[0] for u in updates] == [1.0, 2.0, 3.0]
    assert [u[1] for u in updates] == [3.0, 3.0, 3.0]
    assert [u[2] for u in updates] == ["step 1 of 3", "step 2 of 3", "step 3 of 3"]


async def test_wait_in_the_c_plugin_reports_progress(server, mode):
    updates: list[tuple[float, float | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, total))

    async with connect(server.url, mode) as client:
        with anyio.fail_after(15):
            result = await client.call_tool("wait", {"ms": 50}, progress_callback=on_progress)
    assert result.is_error is False
    assert text_of(result) == "waited 50 ms"
    # The C plugin reports every 10 ms from its own thread.
    assert updates == [(10.0, 50.0), (20.0, 50.0), (30.0, 50.0), (40.0, 50.0), (50.0, 50.0)]


async def test_notes_resources(server, mode):
    title, body = f"title-{uuid.uuid4().hex[:8]}", f"body for {mode}"
    async with connect(server.url, mode) as client:
        added = await client.call_tool("add_note", {"title": title, "body": body})
        assert added.is_error is False
        note_id = added.structured_content["id"]
        assert added.structured_content == {"id": note_id, "title": title, "body": body}

        index = await client.read_resource("notes://index")
        assert len(index.contents) == 1
        assert index.contents[0].uri == "notes://index"
        assert index.contents[0].mime_type == "text/plain"
        assert f"notes://{note_id} {title}" in index.contents[0].text.splitlines()

        note = await client.read_resource(f"notes://{note_id}")
        assert len(note.contents) == 1
        assert note.contents[0].uri == f"notes://{note_id}"
        assert note.contents[0].mime_type == "application/json"
        assert json.loads(note.contents[0].text) == {"id": note_id, "title": title, "body": body}

        listed = await client.call_tool("list_notes", {})
        assert {"id": note_id, "title": title, "body": body} in listed.structured_content["notes"]


async def test_missing_note_is_an_mcp_error(server, mode):
    async with connect(server.url, mode) as client:
        with pytest.raises(MCPError) as raised:
            await client.read_resource("notes://999")
    # 2025 era: "resource not found" (-32002); 2026-07-28 folds it into invalid params (-32602).
    assert raised.value.error.code == (-32002 if mode == "legacy" else -32602)
    assert raised.value.error.message == "Resource not found: notes://999"
    assert raised.value.error.data == {"uri": "notes://999"}


async def test_list_resources_and_templates(server, mode):
    async with connect(server.url, mode) as client:
        resources = await client.list_resources()
        templates = await client.list_resource_templates()
    assert [(r.uri, r.name, r.mime_type) for r in resources.resources] == [("notes://index", "notes-index", "text/plain")]
    assert [(t.uri_template, t.name, t.mime_type) for t in templates.resource_templates] == [
        ("notes://{id}", "note", "application/json")
    ]
    assert templates.resource_templates[0].title == "A note"


async def test_prompts(server, mode):
    async with connect(server.url, mode) as client:
        listing = await client.list_prompts()
        names = sorted(p.name for p in listing.prompts)
        assert names == ["draft_note", "summarize_notes"]

        drafted = await client.get_prompt("draft_note", {"topic": "otters", "tone": "friendly"})
        assert drafted.description == "Asks the model to draft a note on a topic."
        assert len(drafted.messages) == 1
        assert drafted.messages[0].role == "user"
        assert drafted.messages[0].content.text == "Draft a short note about otters in a friendly tone, then save it with add_note."

        # Placeholders are filled once: an argument that looks like one stays literal, and a
        # missing optional argument renders as empty text.
        literal = await client.get_prompt("draft_note", {"topic": "{{tone}}"})
        assert literal.messages[0].content.text == "Draft a short note about {{tone}} in a  tone, then save it with add_note."

        with pytest.raises(MCPError) as raised:
            await client.get_prompt("draft_note", {"tone": "terse"})
        assert raised.value.error.code == -32602
        assert "topic" in raised.value.error.message


async def test_handler_prompt_sees_the_callers_notes(server, mode):
    title, body = f"summary-{uuid.uuid4().hex[:8]}", "remember the milk"
    async with connect(server.url, mode) as client:
        await client.call_tool("add_note", {"title": title, "body": body})
        summary = await client.get_prompt("summarize_notes", {"style": "bullet-points"})
    assert summary.description == "Summarise the caller's notes"
    assert len(summary.messages) == 1
    assert summary.messages[0].role == "user"
    text = summary.messages[0].content.text
    assert text.startswith("Write a bullet-points summary of these notes:\n")
    assert f"- {title}: {body}" in text.splitlines()


async def test_completion_of_a_prompt_argument(server, mode):
    async with connect(server.url, mode) as client:
        ref = PromptReference(type="ref/prompt", name="draft_note")
        tones = await client.complete(ref, {"name": "tone", "value": "f"})
        everything = await client.complete(ref, {"name": "tone", "value": ""})
        nothing = await client.complete(ref, {"name": "tone", "value": "zz"})
    assert tones.completion.values == ["formal", "friendly"]
    assert tones.completion.total == 2
    assert tones.completion.has_more is False
    assert everything.completion.values == ["formal", "friendly", "terse"]
    assert nothing.completion.values == []


async def test_pagination_collects_every_tool(paged_server, mode):
    pages: list[list[str]] = []
    async with connect(paged_server.url, mode) as client:
        cursor: str | None = None
        for _ in range(50):  # a server whose cursor never ends must not hang the test
            page = await client.list_tools(cursor=cursor, cache_mode="bypass")
            pages.append([tool.name for tool in page.tools])
            cursor = page.next_cursor
            if cursor is None:
                break
        else:
            pytest.fail("the cursor never ended")

        with pytest.raises(MCPError) as raised:
            await client.list_tools(cursor="not-a-cursor", cache_mode="bypass")
        assert raised.value.error.code == -32602

    assert all(len(names) == 2 for names in pages[:-1]), pages
    assert 1 <= len(pages[-1]) <= 2
    assert len(pages) == (len(ALL_TOOLS) + 1) // 2
    collected = [name for names in pages for name in names]
    assert len(collected) == len(set(collected)), "a tool was listed twice"
    assert sorted(collected) == sorted(ALL_TOOLS)
