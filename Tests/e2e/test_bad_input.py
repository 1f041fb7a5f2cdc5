"""Misbehaving plugins, bad arguments and cancellation: the host answers sensibly and keeps serving."""

from __future__ import annotations

import json
import time
import uuid

import anyio
import httpx2
import pytest
from mcp.shared.exceptions import MCPError

from support import LOCAL_OWNER, connect, json_headers, rpc, sse_messages, text_of

pytestmark = pytest.mark.anyio


async def still_serving(server) -> None:
    """A fresh client still gets answers, and the process is alive."""
    assert server.is_running(), "the server process died"
    async with connect(server.url, "legacy") as client:
        with anyio.fail_after(10):
            result = await client.call_tool("say", {"text": "still here"})
    assert text_of(result) == "still here"


async def test_hang_times_out_within_its_limit(server):
    async with connect(server.url, "legacy") as client:
        async with anyio.create_task_group() as tg:
            outcome: dict[str, object] = {}

            async def hang() -> None:
                started = time.monotonic()
                outcome["result"] = await client.call_tool("hang", {})
                outcome["elapsed"] = time.monotonic() - started

            tg.start_soon(hang)
            # While one call hangs, others are answered at once.
            await anyio.sleep(0.05)
            with anyio.fail_after(2):
                quick = await client.call_tool("say", {"text": "not blocked"})
            assert text_of(quick) == "not blocked"
    result = outcome["result"]
    assert result.is_error is True
    assert text_of(result) == "The tool 'hang' did not finish within its 300 ms time limit. Try a narrower request."
    # 300 ms limit, a 20 ms deadline sweep; allow for a slow machine but nothing like "forever".
    assert 0.25 <= outcome["elapsed"] < 1.5, outcome["elapsed"]
    await still_serving(server)


async def test_twice_keeps_the_first_completion(server):
    mark = server.log_mark()
    async with connect(server.url, "legacy") as client:
        result = await client.call_tool("twice", {})
        assert result.is_error is False
        assert text_of(result) == "first"
        again = await client.call_tool("twice", {})
        assert text_of(again) == "first"
    await server.await_log(r"plugin=misbehaving .*completed a call that is not in flight", since=mark)
    await still_serving(server)


@pytest.mark.parametrize(
    ("tool", "reason"),
    [
        ("bad_json", "not valid JSON"),
        ("wrong_shape", "'content' must be an array"),
        ("bad_structured", "structuredContent does not match the output_schema: /count: expected integer"),
    ],
)
async def test_invalid_results_become_error_results(server, tool, reason):
    mark = server.log_mark()
    async with connect(server.url, "legacy") as client:
        result = await client.call_tool(tool, {})
    assert result.is_error is True
    assert result.structured_content is None
    text = text_of(result)
    assert text.startswith(f"The tool '{tool}' returned an invalid result (")
    assert reason in text
    assert text.endswith("the server log has the details.")
    line = await server.await_log(r"plugin returned an invalid tool result", since=mark)
    assert f"tool={tool}" in line
    await still_serving(server)


async def test_internal_error_is_generic_and_leaks_nothing(server):
    mark = server.log_mark()
    async with connect(server.url, "legacy") as client:
        result = await client.call_tool("internal", {})
    assert result.is_error is True
    text = text_of(result)
    assert text == "The tool 'internal' failed with an internal error; the server log has the details."
    serialized = result.model_dump_json()
    assert "hunter2" not in serialized
    assert "10.1.2.3" not in serialized
    # The details do reach the operator's log, as the message promises.
    line = await server.await_log(r"plugin call failed", since=mark)
    assert "tool=internal" in line and "10.1.2.3" in line


async def test_whoami_is_the_local_owner(server):
    async with connect(server.url, "legacy") as client:
        result = await client.call_tool("whoami", {})
    assert result.is_error is False
    assert text_of(result) == f"owner={LOCAL_OWNER}"


async def test_query_without_declared_tables(server):
    async with connect(server.url, "legacy") as client:
        result = await client.call_tool("query", {})
    # The fixture echoes the host's answer: status PB_INVALID_ARGUMENTS (2) and its message.
    assert result.is_error is False
    assert text_of(result) == (
        "status 2: query refused: plugin 'misbehaving' declares no tables (add them under data.tables in its manifest)"
    )


async def test_late_completion_after_timeout_is_logged_and_ignored(server):
    mark = server.log_mark()
    async with connect(server.url, "legacy") as client:
        started = time.monotonic()
        result = await client.call_tool("late", {})
        elapsed = time.monotonic() - started
    assert result.is_error is True
    assert text_of(result) == "The tool 'late' did not finish within its 100 ms time limit. Try a narrower request."
    assert elapsed < 1.5, elapsed
    await server.await_log(r"plugin=misbehaving .*plugin call timed out", since=mark)
    # The plugin completes 400 ms after the call began: the host logs it and carries on.
    await server.await_log(r"plugin=misbehaving .*completed a call that is not in flight", since=mark)
    await still_serving(server)


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_unknown_tool_is_a_jsonrpc_error(server, mode):
    async with connect(server.url, mode) as client:
        with pytest.raises(MCPError) as raised:
            await client.call_tool("no_such_tool", {})
    assert raised.value.error.code == -32602
    assert "no_such_tool" in raised.value.error.message


@pytest.mark.parametrize(
    ("tool", "arguments", "named"),
    [
        ("add_integers", {"a": "one", "b": 2}, "/a: expected integer"),
        ("add_integers", {"a": 1}, "b"),
        ("say", {"text": "x", "extra": True}, "extra"),
        ("countdown", {"steps": 0}, "/steps"),
    ],
)
async def test_invalid_arguments_are_error_results(server, tool, arguments, named):
    async with connect(server.url, "legacy") as client:
        result = await client.call_tool(tool, arguments)
    assert result.is_error is True
    text = text_of(result)
    assert text.startswith(f"Invalid arguments for tool '{tool}': ")
    assert named in text
    assert "Expected arguments matching this JSON Schema" in text


# -- cancellation (raw HTTP, handshake era) -------------------------------------------------------

LEGACY_HEADERS = json_headers("2025-11-25")
COUNTDOWN = {"name": "countdown", "arguments": {"steps": 50, "delay_ms": 100}}  # 5 s uncancelled


async def plugin_stopped_early(server, mark: int) -> None:
    """The countdown plugin was told to stop: its own (ignored) completion follows within moments,
    not after the 5 s the uncancelled countdown would take."""
    await server.await_log(r"plugin=demo .*completed a call that is not in flight", since=mark, timeout=2.5)


async def send_cancel(http: httpx2.AsyncClient, url: str, request_id: str) -> None:
    response = await http.post(
        url,
        headers=LEGACY_HEADERS,
        content=rpc("notifications/cancelled", {"requestId": request_id, "reason": "e2e test"}, id=None),
    )
    assert response.status_code == 202


async def test_cancel_a_streaming_call(server):
    """The call streams progress; once cancelled the stream ends without a response."""
    request_id = f"cancel-{uuid.uuid4().hex[:8]}"
    mark = server.log_mark()
    params = {**COUNTDOWN, "_meta": {"progressToken": request_id}}
    async with httpx2.AsyncClient(timeout=30.0) as http:
        chunks: list[str] = []
        first_progress = anyio.Event()
        ended: dict[str, float] = {}

        async def call() -> None:
            async with http.stream("POST", server.url, headers=LEGACY_HEADERS, content=rpc("tools/call", params, id=request_id)) as response:
                assert response.status_code == 200
                assert response.headers["content-type"] == "text/event-stream"
                async for text in response.aiter_text():
                    chunks.append(text)
                    if "notifications/progress" in text:
                        first_progress.set()
            ended["at"] = time.monotonic()

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(call)
                await first_progress.wait()
                cancelled_at = time.monotonic()
                await send_cancel(http, server.url, request_id)

    assert ended["at"] - cancelled_at < 1.5, "the cancelled call did not end promptly"
    messages = sse_messages("".join(chunks))
    progress = [m for m in messages if m.get("method") == "notifications/progress"]
    assert progress and all(m["params"]["progressToken"] == request_id for m in progress)
    assert len(progress) < 50
    assert [m for m in messages if "id" in m] == [], "a cancelled request must get no response"
    await server.await_log(rf"request={request_id} .*request cancelled by client", since=mark)
    await plugin_stopped_early(server, mark)
    await still_serving(server)


async def test_cancel_a_plain_json_call(server):
    """Without a progress token the answer is plain JSON; cancelled, it carries no result."""
    request_id = f"cancel-{uuid.uuid4().hex[:8]}"
    mark = server.log_mark()
    async with httpx2.AsyncClient(timeout=30.0) as http:
        outcome: dict[str, object] = {}
        done = anyio.Event()

        async def call() -> None:
            response = await http.post(server.url, headers=LEGACY_HEADERS, content=rpc("tools/call", COUNTDOWN, id=request_id))
            outcome["response"] = response
            outcome["at"] = time.monotonic()
            done.set()

        started = time.monotonic()
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(call)
                await anyio.sleep(0.3)
                # Nothing tells a plain JSON caller that its call is in flight yet, and a cancel
                # that arrives first is ignored: repeat it (harmless) until the call ends.
                for _ in range(8):
                    cancelled_at = time.monotonic()
                    await send_cancel(http, server.url, request_id)
                    with anyio.move_on_after(0.5):
                        await done.wait()
                    if done.is_set():
                        break

    assert done.is_set() and outcome["at"] - cancelled_at < 1.5, "the cancelled call did not end promptly"
    assert outcome["at"] - started < 4.5, "the call ran (nearly) its full 5 s"
    response = outcome["response"]
    assert response.status_code == 200
    # A cancelled request gets no response: an event stream with no events says exactly that.
    assert response.headers["content-type"] == "text/event-stream"
    assert response.content == b""
    await server.await_log(rf"request={request_id} .*request cancelled by client", since=mark)
    await plugin_stopped_early(server, mark)
    await still_serving(server)


async def test_cancel_reaches_only_the_client_that_sent_it(server):
    """Two clients of the same owner use the same request id; the session id each got from its
    initialize keeps one client's cancel away from the other's call."""
    request_id = "shared-id"
    sessions = []
    async with httpx2.AsyncClient(timeout=30.0) as http:
        for _ in range(2):
            init = await http.post(
                server.url,
                headers=json_headers(version=None),
                content=rpc("initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "e2e", "version": "0"}}, id=0),
            )
            sessions.append(init.headers["mcp-session-id"])
        assert sessions[0] != sessions[1]
        # Both calls stream their progress, so the cancel goes out once both are surely running
        # (a cancel that arrives before its call is ignored); the other call then still has most
        # of its 2 s to go.
        other = {"name": "countdown", "arguments": {"steps": 20, "delay_ms": 100}}
        running = {session: anyio.Event() for session in sessions}
        messages: dict[str, list[dict]] = {}
        ended: dict[str, float] = {}

        async def call(session: str, params: dict) -> None:
            params = {**params, "_meta": {"progressToken": f"progress-{session}"}}
            headers = {**LEGACY_HEADERS, "Mcp-Session-Id": session}
            text = ""
            async with http.stream("POST", server.url, headers=headers, content=rpc("tools/call", params, id=request_id)) as response:
                assert response.status_code == 200
                async for chunk in response.aiter_text():
                    text += chunk
                    if "notifications/progress" in text:
                        running[session].set()
            messages[session] = sse_messages(text)
            ended[session] = time.monotonic()

        with anyio.fail_after(15):
            async with anyio.create_task_group() as tg:
                tg.start_soon(call, sessions[0], COUNTDOWN)
                tg.start_soon(call, sessions[1], other)
                for event in running.values():
                    await event.wait()
                cancel = rpc("notifications/cancelled", {"requestId": request_id}, id=None)
                response = await http.post(server.url, headers={**LEGACY_HEADERS, "Mcp-Session-Id": sessions[0]}, content=cancel)
                assert response.status_code == 202
                cancelled_at = time.monotonic()

    cancelled, completed = ([m for m in messages[session] if "id" in m] for session in sessions)
    assert cancelled == [], "the cancelled call must get no response"
    assert [m["result"]["content"][0]["text"] for m in completed] == ["Counted down 20 steps."], completed
    # The other call was still running when the cancel had been handled, so it could have been hit.
    assert ended[sessions[1]] > cancelled_at


async def test_cancelling_an_unknown_request_is_harmless(server):
    async with httpx2.AsyncClient(timeout=30.0) as http:
        await send_cancel(http, server.url, "never-sent")
        response = await http.post(server.url, headers=LEGACY_HEADERS, content=rpc("ping", id="after"))
    assert response.json() == {"jsonrpc": "2.0", "id": "after", "result": {}}


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_sdk_cancellation(server, mode):
    """Cancelling a call in the SDK stops it on the server, and the same client carries on."""
    mark = server.log_mark()
    async with connect(server.url, mode) as client:
        first_progress = anyio.Event()
        returned: list[object] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            first_progress.set()

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:

                async def call() -> None:
                    returned.append(await client.call_tool("countdown", {"steps": 50, "delay_ms": 100}, progress_callback=on_progress))

                tg.start_soon(call)
                await first_progress.wait()
                tg.cancel_scope.cancel()
        assert returned == []
        # How the SDK signals it (a notifications/cancelled, a closed stream, or both) is its
        # business; what matters is that the plugin is stopped.
        await plugin_stopped_early(server, mark)
        with anyio.fail_after(10):
            after = await client.call_tool("say", {"text": "same client"})
        assert text_of(after) == "same client"
