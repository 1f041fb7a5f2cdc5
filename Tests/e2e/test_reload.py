"""Hot reload of a running server: `plugboard reload`, refused reloads, list-changed notifications
in both eras, calls in flight across a reload, and the file watcher.

Every test starts its own server (the `versioned_server` fixture): the `versioned` fixture plugin,
whose two builds answer "v1" and "v2", installed as libversioned.so next to its manifest, beside
the demo example. Reloads change that server's plugins folder and config.yaml.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

import anyio
import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import ToolsListChanged
from mcp.shared.exceptions import MCPError
from mcp_types import ToolListChangedNotification

from support import (
    DEMO_TOOLS,
    E2E_DIR,
    MODERN,
    VERSIONED_LIBRARY,
    VERSIONED_V1,
    VERSIONED_V2,
    PlugboardServer,
    built_library,
    connect,
    free_port,
    text_of,
    versioned_manifest,
)

pytestmark = pytest.mark.anyio

APPLIED = r"reload applied: generation \d+ serving"
REFUSED = r"reload refused, generation \d+ keeps serving"
BUILDS = {VERSIONED_V1: "v1", VERSIONED_V2: "v2"}


def install(server: PlugboardServer, library: str) -> None:
    """Drops a build of the versioned plugin in as libversioned.so (temp name, then rename)."""
    server.install_library("versioned", built_library(library), VERSIONED_LIBRARY)


async def reload(server: PlugboardServer, json_output: bool = False) -> subprocess.CompletedProcess[str]:
    """`plugboard reload` in a worker thread, so the clients of the test keep running."""
    return await anyio.to_thread.run_sync(lambda: server.reload(json_output))


async def answer(client: Client, tool: str = "answer") -> str:
    result = await client.call_tool(tool, {})
    assert result.is_error is False, f"{tool} failed: {result.content!r}"
    return text_of(result)


async def tool_names(client: Client) -> list[str]:
    return [tool.name for tool in (await client.list_tools()).tools]


@dataclass
class SlowCall:
    """One `slow` call: what it reported and when (wall clock, like the load processes)."""

    tool: str
    started: float
    first_progress: float | None = None
    finished: float = 0.0
    messages: list[str] = field(default_factory=list)
    text: str = ""
    error: str | None = None


async def slow_call(client: Client, tool: str, steps: int, delay_ms: int, first_progress: anyio.Event | None = None) -> SlowCall:
    call = SlowCall(tool=tool, started=time.time())

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        if call.first_progress is None:
            call.first_progress = time.time()
            if first_progress is not None:
                first_progress.set()
        call.messages.append(message or "")

    try:
        result = await client.call_tool(tool, {"steps": steps, "delay_ms": delay_ms}, progress_callback=on_progress)
        if result.is_error:
            call.error = f"error result: {result.content!r}"
        else:
            call.text = text_of(result)
    except Exception as error:
        call.error = f"{type(error).__name__}: {error}"
    call.finished = time.time()
    return call


# -- 1. reload under load ------------------------------------------------------------------------

LOAD_SECONDS = 20.0
LOAD_PROCESSES = 2
CLIENTS_PER_PROCESS = 4
RELOAD_EVERY_S = 2.0
SLOW_STEPS, SLOW_DELAY_MS = 6, 400  # 2.4 s: longer than the reload period, so each call spans a reload


@dataclass
class Reload:
    kind: str  # "v1", "v2" (library swaps) or "rename"
    started: float
    finished: float
    version: str  # the build serving once it applied
    returncode: int
    output: str


async def test_reload_under_load(versioned_server):
    server = versioned_server("load")
    # The load: official MCP clients in legacy mode, in two child processes (one Python process
    # of the official client tops out near 250 calls/s on 2 cores, and this process runs the
    # reloads, slow calls and checks meanwhile). No raw HTTP. The rate is printed, not asserted:
    # throughput is the benchmark's business (bench/reload.sh), not this functional gate's.
    start_at = time.time() + 3.0
    end_at = start_at + LOAD_SECONDS
    load = [
        subprocess.Popen(
            [sys.executable, str(E2E_DIR / "load_clients.py"), "--url", server.url, "--clients", str(CLIENTS_PER_PROCESS),
             "--start-at", repr(start_at), "--duration", repr(LOAD_SECONDS), "--tool", "answer"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(LOAD_PROCESSES)
    ]
    try:
        reloads: list[Reload] = []
        slow_calls: list[SlowCall] = []
        fresh_answers: list[tuple[str, str]] = []  # (expected, got) right after each library swap
        state = {"version": "v1", "slow": "slow"}

        async def reloader(checker: Client) -> None:
            kinds = ["v2", "v1", "rename"]
            await anyio.sleep(max(0.0, start_at + 1.0 - time.time()))
            for index in range(int(LOAD_SECONDS // RELOAD_EVERY_S)):
                planned = start_at + 1.0 + index * RELOAD_EVERY_S
                await anyio.sleep(max(0.0, planned - time.time()))
                kind = kinds[index % 3]
                if kind == "rename":
                    renamed = "slow_renamed" if state["slow"] == "slow" else "slow"
                    server.write_manifest("versioned", versioned_manifest(slow=renamed))
                else:
                    install(server, VERSIONED_V1 if kind == "v1" else VERSIONED_V2)
                started = time.time()
                done = await reload(server)
                finished = time.time()
                if done.returncode == 0:
                    if kind == "rename":
                        state["slow"] = renamed
                    else:
                        state["version"] = kind
                        fresh_answers.append((kind, await answer(checker)))
                reloads.append(Reload(kind, started, finished, state["version"], done.returncode, done.stdout + done.stderr))

        async def slow_caller(client: Client, offset: float) -> None:
            await anyio.sleep(max(0.0, start_at + offset - time.time()))
            while time.time() < end_at - SLOW_STEPS * SLOW_DELAY_MS / 1000:
                slow_calls.append(await slow_call(client, state["slow"], SLOW_STEPS, SLOW_DELAY_MS))

        with anyio.fail_after(LOAD_SECONDS + 60):
            async with connect(server.url, "legacy") as checker, connect(server.url, "legacy") as slow_a, connect(server.url, "legacy") as slow_b:
                assert await answer(checker) == "v1"
                async with anyio.create_task_group() as group:
                    group.start_soon(reloader, checker)
                    group.start_soon(slow_caller, slow_a, 0.5)
                    group.start_soon(slow_caller, slow_b, 0.5 + SLOW_STEPS * SLOW_DELAY_MS / 2000)  # staggered
            outputs = []
            for process in load:
                stdout, stderr = await anyio.to_thread.run_sync(lambda p=process: p.communicate(timeout=60))
                assert process.returncode == 0, f"load process failed ({process.returncode}):\n{stderr[-3000:]}"
                outputs.append(json.loads(stdout))
    finally:
        for process in load:
            if process.poll() is None:
                process.kill()
                process.wait()

    # The reloads: every one applied, one generation each, in 2 s steps.
    assert len(reloads) == int(LOAD_SECONDS // RELOAD_EVERY_S) == 10
    for number, done in enumerate(reloads, start=2):
        assert done.returncode == 0, f"reload {done.kind} failed: {done.output}"
        assert f"reloaded: generation {number} serving" in done.output
    status = server.status()
    assert status["generation"] == 1 + len(reloads)
    assert status["last_reload"]["applied"] is True
    # Right after each library swap returned, a fresh call got the new build.
    assert len(fresh_answers) == 7
    assert all(got == expected for expected, got in fresh_answers), fresh_answers

    # The load: zero failures, only v1 and v2.
    failures = [failure for output in outputs for failure in output["failures"]]
    failure_count = sum(output["failure_count"] for output in outputs)
    assert failure_count == 0, f"{failure_count} failed calls, e.g.:\n" + "\n".join(failures[:20])
    calls = sorted(tuple(call) for output in outputs for call in output["calls"])
    answers = {text for _, _, text in calls}
    assert answers <= {"v1", "v2"}, answers
    assert answers == {"v1", "v2"}
    in_window = [call for call in calls if start_at <= call[0] < end_at]
    assert len(in_window) >= 2, f"{len(in_window)} calls of the load completed in its {LOAD_SECONDS:.0f} s"
    rate = len(in_window) / LOAD_SECONDS
    finishes = sorted(finished for _, finished, _ in in_window)
    longest_gap = max(b - a for a, b in zip(finishes, finishes[1:]))
    print(f"\nload: {len(in_window)} calls in {LOAD_SECONDS:.0f} s = {rate:.0f} calls/s, {len(reloads)} reloads, "
          f"longest gap {longest_gap * 1000:.0f} ms, {len(slow_calls)} slow calls")
    # No stall: the longest time without any completed call stays well under a second.
    assert longest_gap < 1.0, f"no call completed for {longest_gap:.2f} s"
    # A call that ran entirely after a reload returned, and before the next one began, was
    # answered by the build that reload installed: the swap is complete when `reload` returns.
    windows = [(done.finished, following.started, done.version) for done, following in zip(reloads, reloads[1:] + [None]) if following] + [
        (reloads[-1].finished, end_at + 60, reloads[-1].version)
    ]
    checked = 0
    for begin, end, version in windows:
        inside = [text for started, finished, text in calls if begin < started and finished < end]
        assert inside and set(inside) == {version}, f"between {begin - start_at:.2f}s and {end - start_at:.2f}s: {sorted(set(inside))}, expected {version}"
        checked += len(inside)
    assert checked > 0.5 * len(in_window)

    # The slow calls: each one is wholly v1 or wholly v2, progress and final text alike.
    assert len(slow_calls) >= 10
    for call in slow_calls:
        assert call.error is None, call
        version = call.text.split(" ")[0]
        assert call.text == f"{version} finished {SLOW_STEPS} steps", call
        assert call.messages == [version] * SLOW_STEPS, call
    # A call completes on the generation it started on. The build serving when it was sent is
    # known unless a reload ran between sending it and its first progress; those calls must
    # then give that build even though a library swap happened while they ran.
    def serving_at(moment: float) -> str:
        return next((done.version for done in reversed(reloads) if done.finished <= moment), "v1")

    spanning = 0
    for call in slow_calls:
        assert call.first_progress is not None, call
        if any(done.started <= call.first_progress and done.finished >= call.started for done in reloads):
            continue
        expected = serving_at(call.started)
        swaps = [done for done in reloads if done.kind != "rename" and call.first_progress < done.started and done.finished < call.finished]
        assert call.text.startswith(expected), f"{call} started on {expected}, then swaps to {[done.kind for done in swaps]}"
        spanning += bool(swaps)
    # And across renames: calls that started under the old name finished normally.
    spanning_renames = [call for call in slow_calls for done in reloads if done.kind == "rename" and call.started < done.started < done.finished < call.finished]
    print(f"slow calls spanning a library swap: {spanning}, a rename: {len(spanning_renames)}")
    assert spanning >= 3, f"only {spanning} slow calls spanned a library swap"
    assert spanning_renames, "no slow call spanned a rename"
    assert {call.tool for call in slow_calls} == {"slow", "slow_renamed"}
    assert server.is_running()


async def test_unchanged_plugins_keep_their_instance_and_state(versioned_server):
    server = versioned_server("carry_over", extra_plugins=("notes",))
    notes_manifest = server.plugins_dir / "notes" / "manifest.yaml"
    async with connect(server.url, "legacy") as client:
        added = await client.call_tool("add_note", {"title": "kept", "body": "in memory"})
        assert added.is_error is False
        note = {"id": added.structured_content["id"], "title": "kept", "body": "in memory"}

        install(server, VERSIONED_V2)
        done = await reload(server, json_output=True)
        assert done.returncode == 0, done.stdout
        outcome = json.loads(done.stdout)
        assert outcome["loaded"] == ["versioned"]
        assert sorted(outcome["carried_over"]) == ["demo", "notes"]
        assert outcome["changed"] == {"tools": False, "resources": False, "prompts": False}
        assert await answer(client) == "v2"
        assert note in (await client.call_tool("list_notes", {})).structured_content["notes"]

        # A rename in the notes manifest needs no new instance either.
        server.write_manifest("notes", notes_manifest.read_text().replace("name: list_notes", "name: all_notes"))
        done = await reload(server, json_output=True)
        assert done.returncode == 0, done.stdout
        outcome = json.loads(done.stdout)
        assert outcome["loaded"] == [] and sorted(outcome["carried_over"]) == ["demo", "notes", "versioned"]
        assert outcome["changed"]["tools"] is True
        assert note in (await client.call_tool("all_notes", {})).structured_content["notes"]


# -- 2. refused reloads ----------------------------------------------------------------------------


def break_yaml(server: PlugboardServer) -> str:
    lines = versioned_manifest().splitlines()
    lines[8] = "    handler: versioned.answer: oops"  # line 9: a second ':' in a plain scalar
    (server.plugins_dir / "versioned" / "manifest.yaml").write_text("\n".join(lines) + "\n")
    return ":9: invalid YAML: mapping values are not allowed"


def wrong_abi(server: PlugboardServer) -> str:
    shutil.copyfile(built_library("libfixture_abi2.so"), server.plugins_dir / "versioned" / VERSIONED_LIBRARY)
    return "plugin 'versioned': libversioned.so was built for plugin ABI 2, this host speaks ABI 1"


def missing_handler(server: PlugboardServer) -> str:
    server.write_manifest("versioned", versioned_manifest(answer_handler="versioned.nope"))
    return "plugin 'versioned': handler 'versioned.nope' (used by tool 'answer' at line 8) is not implemented by libversioned.so"


def name_clash(server: PlugboardServer) -> str:
    server.write_manifest("versioned", versioned_manifest(answer="say"))
    return ":8: plugin 'versioned': duplicate tool name 'say': already provided by plugin 'demo'"


def init_failure(server: PlugboardServer) -> str:
    server.write_manifest("versioned", versioned_manifest(config={"fail_on_create": True}))
    return "plugin 'versioned': plugin init failed"


def isolated_init_crash(server: PlugboardServer) -> str:
    server.write_manifest("versioned", versioned_manifest(config={"crash_on_create": True}, isolation="process"))
    return "plugin 'versioned': the plugin worker exited while starting (killed by signal 11, SIGSEGV)"


@pytest.mark.parametrize(
    "breakage",
    [break_yaml, wrong_abi, missing_handler, name_clash, init_failure, isolated_init_crash],
    ids=["bad_yaml", "wrong_abi", "missing_handler", "name_clash", "init_failure", "isolated_init_crash"],
)
async def test_refused_reload_keeps_the_old_catalog(versioned_server, breakage):
    server = versioned_server("refuse")
    before = server.status()
    assert before["generation"] == 1
    versioned = server.plugin_status("versioned")
    manifest = server.plugins_dir / "versioned" / "manifest.yaml"
    async with connect(server.url, "legacy") as client:
        tools_before = await tool_names(client)
        assert await answer(client) == "v1"

        expected = breakage(server)
        mark = server.log_mark()
        done = await reload(server)
        assert done.returncode == 1, done.stdout + done.stderr
        assert done.stdout.startswith("reload refused; generation 1 keeps serving:\n"), done.stdout
        assert f"{manifest}" in done.stdout and expected in done.stdout, f"expected {expected!r} in:\n{done.stdout}"
        line = server.wait_for_log(REFUSED, since=mark)
        assert "reload refused, generation 1 keeps serving" in line and expected in line

        status = server.status()
        assert status["generation"] == 1
        last = status["last_reload"]
        assert last["applied"] is False and last["generation"] == 1 and last["reason"] == "plugboard reload"
        assert len(last["refusals"]) == 1, last["refusals"]
        refusal = last["refusals"][0]
        assert refusal["file"] == str(manifest)
        assert expected in refusal["message"]
        if breakage is break_yaml:
            assert refusal["line"] == 9
            # The manifest could not be parsed, so it names no plugin: the file is the pointer.
            assert "plugin" not in refusal
        else:
            assert refusal["plugin"] == "versioned"
        assert refusal["reason"] in refusal["message"]
        # Nothing changed: same plugin instance (library digest, isolation), same tools, v1 answers.
        assert status["plugins"] == before["plugins"]
        assert server.plugin_status("versioned") == versioned
        assert server.worker_pids() == []  # the refused isolated instance left no worker behind
        assert await tool_names(client) == tools_before
        assert await answer(client) == "v1"
        assert text_of(await client.call_tool("say", {"text": "still here"})) == "still here"

        # Once the breakage is repaired, the next reload applies.
        server.write_manifest("versioned", versioned_manifest())
        install(server, VERSIONED_V2)
        done = await reload(server)
        assert done.returncode == 0, done.stdout + done.stderr
        assert server.status()["generation"] == 2
        assert await answer(client) == "v2"


async def test_a_refused_plugin_keeps_its_version_while_the_others_apply_under_load(versioned_server):
    """Per-plugin reload in a shared folder: one person breaks `versioned` while another sharpens a
    demo description. The reload applies the description, keeps `versioned` at its last good
    version, says so and exits 1; a load of official clients calling both plugins sees no failed
    call; repaired, the next reload applies fully."""
    server = versioned_server("per_plugin")
    demo_manifest = server.plugins_dir / "demo" / "manifest.yaml"
    start_at = time.time() + 2.0
    load = subprocess.Popen(
        [sys.executable, str(E2E_DIR / "load_clients.py"), "--url", server.url, "--clients", str(CLIENTS_PER_PROCESS),
         "--start-at", repr(start_at), "--duration", "6", "--tool", "answer"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        async with connect(server.url, "legacy") as client:
            await anyio.sleep(max(0.0, start_at + 1.0 - time.time()))
            server.write_manifest("versioned", versioned_manifest(answer_handler="versioned.nope"))
            text = demo_manifest.read_text()
            demo_manifest.write_text(text.replace("Repeats the given text.", "Says the given text back."))
            done = await reload(server)
            assert done.returncode == 1, done.stdout + done.stderr
            assert done.stdout.startswith("reloaded partially: generation 2 serving"), done.stdout
            assert "kept at its previous version: versioned" in done.stdout and "handler 'versioned.nope'" in done.stdout, done.stdout
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            assert tools["say"].description.startswith("Says the given text back."), tools["say"].description
            assert await answer(client) == "v1"
            versioned = server.plugin_status("versioned")
            assert "handler 'versioned.nope'" in versioned["refused_candidate"], versioned
            assert "refused_candidate" not in server.plugin_status("demo")
            last = server.status()["last_reload"]
            assert last["applied"] is True and last["partial"] is True and [kept["plugin"] for kept in last["kept"]] == ["versioned"], last

            server.write_manifest("versioned", versioned_manifest())
            done = await reload(server)
            assert done.returncode == 0, done.stdout + done.stderr
            assert "refused_candidate" not in server.plugin_status("versioned")
            stdout, stderr = await anyio.to_thread.run_sync(lambda: load.communicate(timeout=60))
            assert load.returncode == 0, stderr[-3000:]
            outcome = json.loads(stdout)
            assert outcome["failures"] == [], outcome["failures"][:5]
            assert len(outcome["calls"]) > 0 and {call[2] for call in outcome["calls"]} == {"v1"}
    finally:
        if load.poll() is None:
            load.kill()
            load.wait()


# -- 3. clients that listen for list changes ------------------------------------------------------


async def test_legacy_client_is_told_of_a_rename_and_the_old_name_lasts_its_ttl(versioned_server):
    server = versioned_server("legacy_listen", plugin_settings={"alias_ttl": "10s"})
    notifications: list[object] = []
    changed = anyio.Event()
    stream_open = anyio.Event()

    async def on_message(message) -> None:
        notifications.append(message)
        if isinstance(message, ToolListChangedNotification):
            changed.set()

    async def on_response(response: httpx2.Response) -> None:
        # The SDK opens the GET stream in the background after initialize: reloading before the
        # server has answered it would race the notification.
        if response.request.method == "GET" and response.status_code == 200:
            stream_open.set()

    async with httpx2.AsyncClient(timeout=httpx2.Timeout(30.0), event_hooks={"response": [on_response]}) as http:
        async with Client(streamable_http_client(server.url, http_client=http), mode="legacy", read_timeout_seconds=30.0, message_handler=on_message) as client:
            with anyio.fail_after(5):
                await stream_open.wait()
            assert sorted(await tool_names(client)) == sorted(DEMO_TOOLS + ["answer", "slow"])

            server.write_manifest("versioned", versioned_manifest(slow="count_slowly"))
            done = await reload(server)
            assert done.returncode == 0, done.stdout
            with anyio.fail_after(5):
                await changed.wait()
            assert [type(message).__name__ for message in notifications] == ["ToolListChangedNotification"], notifications
            names = await tool_names(client)
            assert "count_slowly" in names and "slow" not in names
            assert server.status()["aliases"] == ["slow"]
            assert text_of(await client.call_tool("count_slowly", {"steps": 1, "delay_ms": 1})) == "v1 finished 1 steps"
            # Hidden, but still answering for this generation.
            assert text_of(await client.call_tool("slow", {"steps": 2, "delay_ms": 1})) == "v1 finished 2 steps"

            # Another reload (nothing changed) keeps the alias: it lasts plugins.alias_ttl.
            done = await reload(server)
            assert done.returncode == 0, done.stdout
            assert server.status()["generation"] == 3
            assert server.status()["aliases"] == ["slow"]
            assert text_of(await client.call_tool("slow", {"steps": 1, "delay_ms": 1})) == "v1 finished 1 steps"
            # Its time up, the old name is unknown.
            with anyio.fail_after(40):
                while server.status()["aliases"]:
                    await anyio.sleep(0.1)
            with pytest.raises(MCPError) as raised:
                await client.call_tool("slow", {"steps": 1, "delay_ms": 1})
            assert raised.value.error.code == -32602
            assert "slow" in raised.value.error.message
            assert text_of(await client.call_tool("count_slowly", {"steps": 1, "delay_ms": 1})) == "v1 finished 1 steps"
            # A reload that changes no list sends nothing.
            await anyio.sleep(0.3)
            assert len(notifications) == 1


async def test_modern_client_listens_for_a_rename(versioned_server):
    server = versioned_server("modern_listen")
    async with connect(server.url, MODERN) as client:
        # Listed once: the 2026-07-28 client caches the list (ttlMs) until told it changed.
        assert "slow" in await tool_names(client)
        async with client.listen(tools_list_changed=True) as subscription:
            assert subscription.honored.tools_list_changed is True
            server.write_manifest("versioned", versioned_manifest(slow="count_slowly"))
            done = await reload(server)
            assert done.returncode == 0, done.stdout
            with anyio.fail_after(5):
                event = await subscription.__anext__()
            assert isinstance(event, ToolsListChanged)
            names = await tool_names(client)
            assert "count_slowly" in names and "slow" not in names
            assert text_of(await client.call_tool("count_slowly", {"steps": 1, "delay_ms": 1})) == "v1 finished 1 steps"


# -- 4. a call in flight across a reload ----------------------------------------------------------


async def test_call_in_flight_finishes_on_its_generation(versioned_server):
    server = versioned_server("in_flight")
    async with connect(server.url, "legacy") as old_client, connect(server.url, "legacy") as new_client:
        running = anyio.Event()
        results: dict[str, SlowCall] = {}

        async def old_call() -> None:
            results["old"] = await slow_call(old_client, "slow", 5, 300, first_progress=running)

        with anyio.fail_after(30):
            async with anyio.create_task_group() as group:
                group.start_soon(old_call)
                await running.wait()  # the call runs on generation 1
                install(server, VERSIONED_V2)
                done = await reload(server)
                assert done.returncode == 0, done.stdout
                assert "reloaded: generation 2 serving" in done.stdout
                assert server.status()["retiring_generations"] == 1  # generation 1 still serves the old call
                assert await answer(new_client) == "v2"
                results["new"] = await slow_call(new_client, "slow", 3, 50)
                assert "old" not in results  # the old call is still running
        old, new = results["old"], results["new"]
        assert old.error is None and new.error is None, results
        assert old.first_progress is not None and old.first_progress < old.finished
        assert old.text == "v1 finished 5 steps"
        assert old.messages == ["v1"] * 5
        assert new.text == "v2 finished 3 steps"
        assert new.messages == ["v2"] * 3
        # Once the old call is done, generation 1 is retired.
        for _ in range(50):
            if server.status()["retiring_generations"] == 0:
                break
            await anyio.sleep(0.1)
        assert server.status()["retiring_generations"] == 0
        assert await answer(old_client) == "v2"


# -- 5. the file watcher ---------------------------------------------------------------------------

DEBOUNCE_MS = 300


def watching_server(versioned_server, name: str, **options) -> PlugboardServer:
    server = versioned_server(name, watch=True, debounce_ms=DEBOUNCE_MS, **options)
    server.wait_for_log(r"watching .* for changes")
    return server


async def wait_for_answer(client: Client, expected: str, tool: str = "answer", within: float = 2.0) -> float:
    """Seconds until `tool` answers `expected` (polling), failing after `within`."""
    began = time.monotonic()
    seen = ""
    while time.monotonic() - began < within:
        try:
            seen = await answer(client, tool)
        except MCPError as error:
            seen = f"MCPError {error}"
        if seen == expected:
            return time.monotonic() - began
        await anyio.sleep(0.05)
    raise AssertionError(f"{tool} answered {seen!r}, not {expected!r}, {within} s after the change")


async def test_watcher_picks_up_a_library_dropped_in(versioned_server):
    server = watching_server(versioned_server, "watch_drop")
    async with connect(server.url, "legacy") as client:
        assert await answer(client) == "v1"
        mark = server.log_mark()
        install(server, VERSIONED_V2)  # write as .libversioned.so.tmp, rename into place
        elapsed = await wait_for_answer(client, "v2", within=2.0)
        assert elapsed >= DEBOUNCE_MS / 1000 * 0.8  # not before the files were quiet for the debounce
        await anyio.sleep(DEBOUNCE_MS / 1000 * 2)
        applied = server.log_lines(APPLIED, since=mark)
        assert len(applied) == 1, applied
        assert f"file change: {server.plugins_dir}/versioned/{VERSIONED_LIBRARY}" in applied[0]
        assert "loaded: versioned; carried over: demo" in applied[0]
        assert server.log_lines(REFUSED, since=mark) == []
        assert server.plugin_status("versioned")["library_version"] == "2.0.0"


async def write_in_place(server: PlugboardServer, data: bytes, chunks: int, pause) -> None:
    """Writes the versioned library in place (no temp name), as `cp` does, in `chunks` pieces,
    awaiting `pause(index)` between them."""
    size = -(-len(data) // chunks)
    with open(server.plugins_dir / "versioned" / VERSIONED_LIBRARY, "wb") as library:
        for index in range(chunks):
            library.write(data[index * size:(index + 1) * size])
            library.flush()
            os.fsync(library.fileno())
            if index < chunks - 1:
                await pause(index)


async def test_watcher_waits_for_a_slowly_written_library(versioned_server):
    server = watching_server(versioned_server, "watch_slow")
    data = built_library(VERSIONED_V2).read_bytes()
    chunks = 6
    async with connect(server.url, "legacy") as client:
        assert await answer(client) == "v1"
        mark = server.log_mark()
        # Written in place (no temp name), in pieces with pauses shorter than the debounce: a
        # reload of the half-written library would be refused (or worse).
        await write_in_place(server, data, chunks, lambda _: anyio.sleep(DEBOUNCE_MS / 1000 / 2))
        await server.await_log(APPLIED, since=mark, timeout=5)
        await anyio.sleep(DEBOUNCE_MS / 1000 * 3)  # long enough for a second reload, if one were coming
        assert len(server.log_lines(APPLIED, since=mark)) == 1, server.log_lines(APPLIED, since=mark)
        assert server.log_lines(REFUSED, since=mark) == []
        assert server.log_lines(r"plugin refused", since=mark) == []
        assert await answer(client) == "v2"
        assert server.status()["generation"] == 2


async def test_watcher_survives_a_writer_slower_than_the_debounce(versioned_server):
    """Written in place with pauses longer than the debounce, the library is reloaded half-written
    several times: each time it is refused as incomplete, never mapped, and v1 keeps answering
    without a failed call; the complete file then loads."""
    server = watching_server(versioned_server, "watch_slower")
    data = built_library(VERSIONED_V2).read_bytes()
    chunks = 4
    failures: list[str] = []
    answers: list[str] = []
    async with connect(server.url, "legacy") as client, connect(server.url, "legacy") as loader:
        assert await answer(client) == "v1"
        mark = server.log_mark()
        done = anyio.Event()

        async def keep_calling() -> None:
            while not done.is_set():
                try:
                    answers.append(await answer(loader))
                    assert text_of(await loader.call_tool("say", {"text": "hi"})) == "hi"
                except Exception as error:  # noqa: BLE001 - every failure is the finding
                    failures.append(repr(error))

        async with anyio.create_task_group() as group:
            group.start_soon(keep_calling)
            # Longer than the debounce: the watcher reloads the half-written file each time.
            await write_in_place(
                server, data, chunks,
                lambda index: server.await_log(r"looks incomplete \(still being copied\?\)", since=server.log_mark() if index else mark, timeout=10))
            await wait_for_answer(client, "v2", within=5.0)
            done.set()
        assert failures == [], failures[:5]
        assert set(answers) <= {"v1", "v2"} and "v1" in answers, set(answers)
        assert len(server.log_lines(r"looks incomplete", since=mark)) >= chunks - 1
        assert server.process is not None and server.process.poll() is None
        assert server.plugin_status("versioned")["library_version"] == "2.0.0"


@pytest.mark.parametrize("saved", ["renamed_into_place", "in_place"])
async def test_watcher_applies_a_config_overlay(versioned_server, saved):
    server = watching_server(versioned_server, "watch_config")
    async with connect(server.url, "legacy") as client:
        assert await answer(client) == "v1"
        mark = server.log_mark()
        server.tool_overlays = {"answer": {"name": "which_build", "description": "Names the build that answers."}}
        if saved == "in_place":  # as editors that rewrite the file itself save it
            server.config_path.write_text(server.config_text(server.port))
        else:
            server.rewrite_config()
        await wait_for_answer(client, "v1", tool="which_build", within=2.0)
        line = await server.await_log(APPLIED, since=mark)
        assert f"file change: {server.config_path}" in line
        listing = (await client.list_tools()).tools
        renamed = next(tool for tool in listing if tool.name == "which_build")
        assert renamed.description == "Names the build that answers."
        assert "answer" not in [tool.name for tool in listing]
        status = server.status()
        assert status["last_reload"]["applied"] is True
        assert status["last_reload"]["changed"]["tools"] is True
        assert status["last_reload"]["needs_restart"] == []
        assert status["aliases"] == ["answer"]


async def test_watcher_reports_a_listen_change_as_needing_a_restart(versioned_server):
    server = watching_server(versioned_server, "watch_listen")
    other_port = free_port()
    mark = server.log_mark()
    server.rewrite_config(listen_port=other_port)
    await server.await_log(APPLIED, since=mark, timeout=5)
    warning = await server.await_log(r"config.yaml changed settings that apply only after a restart", since=mark)
    assert warning.endswith("server.listen")
    last = server.status()["last_reload"]
    assert last["applied"] is True
    assert last["needs_restart"] == ["server.listen"]
    # Still serving where it was, and not where config.yaml now says.
    async with connect(server.url, "legacy") as client:
        assert await answer(client) == "v1"
    with pytest.raises(httpx2.ConnectError):
        async with httpx2.AsyncClient(timeout=2.0) as http:
            await http.get(f"http://127.0.0.1:{other_port}/healthz")
    # `plugboard reload` reads the same config.yaml: it still reaches the server (the admin socket
    # did not move) and keeps reporting the pending restart.
    done = await reload(server, json_output=True)
    assert done.returncode == 0, done.stdout
    assert json.loads(done.stdout)["needs_restart"] == ["server.listen"]


# -- SIGHUP ------------------------------------------------------------------------------------------


def config_with_a_typo(server: PlugboardServer) -> tuple[str, int]:
    """config.yaml with `wach: true` in the plugins section, and the typo's line number."""
    lines = server.config_path.read_text().splitlines()
    typo_line = lines.index("plugins:") + 2
    lines.insert(typo_line - 1, "  wach: true")
    return "\n".join(lines) + "\n", typo_line


async def test_sighup_reloads_and_refuses_a_broken_config(versioned_server):
    server = versioned_server("sighup")
    good = server.config_path.read_text()
    broken, typo_line = config_with_a_typo(server)
    async with connect(server.url, "legacy") as client:
        # A config.yaml with a typo: refused with its line, and nothing changes.
        server.config_path.write_text(broken)
        install(server, VERSIONED_V2)
        mark = server.log_mark()
        server.process.send_signal(signal.SIGHUP)
        line = await server.await_log(REFUSED, since=mark)
        assert f"{server.config_path}:{typo_line}: plugins: unknown key 'wach' (did you mean 'watch'?)" in line
        status = server.status_from_socket()  # `plugboard status` cannot read the broken config
        last = status["last_reload"]
        assert last["reason"] == "SIGHUP" and last["applied"] is False and last["generation"] == 1
        assert [(r["file"], r["line"]) for r in last["refusals"]] == [(str(server.config_path), typo_line)]
        assert status["generation"] == 1
        assert await answer(client) == "v1"

        # Fixed: the next SIGHUP applies, library swap included.
        server.config_path.write_text(good)
        mark = server.log_mark()
        server.process.send_signal(signal.SIGHUP)
        line = await server.await_log(APPLIED, since=mark)
        assert "generation 2 serving (loaded: versioned; carried over: demo" in line
        assert "reason=SIGHUP" in line
        assert await answer(client) == "v2"
        assert server.status()["last_reload"]["applied"] is True


def test_admin_commands_report_a_broken_config(versioned_server):
    server = versioned_server("broken_config_cli")
    broken, typo_line = config_with_a_typo(server)
    server.config_path.write_text(broken)
    refusal = f"{server.config_path}:{typo_line}: plugins: unknown key 'wach'"
    done = server.reload()
    assert done.returncode == 1, f"exit {done.returncode}: {done.stdout}{done.stderr}"
    assert done.stdout.startswith("reload refused; generation 1 keeps serving:") and refusal in done.stdout
    status = server.admin("status", "--json")
    assert status.returncode == 0, f"exit {status.returncode}: {status.stdout}{status.stderr}"
    assert json.loads(status.stdout)["last_reload"]["refusals"][0]["line"] == typo_line
