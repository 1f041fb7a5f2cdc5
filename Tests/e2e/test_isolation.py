"""Process isolation: the `versioned` fixture plugin runs in a `plugboard plugin-worker` child
process (a `plugins.isolation` override in config.yaml), the demo example in the host.

A crash in the worker (segfault, fatalError) fails only the call in flight, with an error result;
the worker restarts and the next call succeeds; the host and its in-process plugins carry on.
Reloading the isolated plugin replaces its worker process.
"""

from __future__ import annotations

import os
import signal
import time

import anyio
import httpx2
import pytest

from support import LEGACY, VERSIONED_LIBRARY, VERSIONED_V1, VERSIONED_V2, PlugboardServer, built_library, connect, text_of

pytestmark = pytest.mark.anyio

# The worker reports a crash at once (SWIFT_BACKTRACE=enable=no); 3 s is the ceiling asked for.
CRASH_ANSWER_S = 3.0
# Swift's fatalError traps (ud2): the worker dies of SIGILL; a segfault is SIGSEGV.
CRASH_SIGNALS = {"segfault": 11, "fatal": 4}
# Connections held open while a retired worker exits.
STREAMS = 8
BUILDS = {VERSIONED_V1: "v1", VERSIONED_V2: "v2"}


def isolated_server(versioned_server, name: str) -> PlugboardServer:
    return versioned_server(name, manifest={"crash": True}, isolation={"versioned": "process"})


def process_gone(pid: int) -> bool:
    """True once the process has exited and been reaped by its parent."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def wait_until(condition, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {within} s")
        await anyio.sleep(0.05)


async def test_worker_crashes_fail_only_the_call_in_flight(versioned_server):
    server = isolated_server(versioned_server, "crash")
    versioned = server.plugin_status("versioned")
    assert versioned["isolation"] == "process"
    assert versioned["worker_restarts"] == 0
    demo = server.plugin_status("demo")
    assert demo["isolation"] == "in_process" and "worker_restarts" not in demo
    workers = server.worker_pids()
    assert len(workers) == 1, workers

    say_results: list[tuple[float, str | None]] = []  # (finished, error)
    crashes_done = anyio.Event()

    async def keep_saying() -> None:
        # Another client calls the in-process demo plugin throughout the crashes.
        async with connect(server.url, "legacy") as client:
            index = 0
            while not crashes_done.is_set():
                index += 1
                text = f"still here {index}"
                try:
                    result = await client.call_tool("say", {"text": text})
                    error = None if (not result.is_error and text_of(result) == text) else f"{result.content!r}"
                except Exception as failure:
                    error = f"{type(failure).__name__}: {failure}"
                say_results.append((time.monotonic(), error))
                await anyio.sleep(0.005)

    crash_windows: list[tuple[float, float]] = []
    with anyio.fail_after(60):
        async with anyio.create_task_group() as group:
            group.start_soon(keep_saying)
            async with connect(server.url, "legacy") as client:
                assert text_of(await client.call_tool("answer", {})) == "v1"
                for number, (mode, signal) in enumerate(CRASH_SIGNALS.items(), start=1):
                    mark = server.log_mark()
                    began = time.monotonic()
                    result = await client.call_tool("crash", {"mode": mode})
                    elapsed = time.monotonic() - began
                    assert result.is_error is True, f"{mode}: {result.content!r}"
                    assert elapsed < CRASH_ANSWER_S, f"{mode}: the error result took {elapsed:.2f} s"
                    name = {11: "SIGSEGV", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT"}.get(signal)
                    assert text_of(result) == (
                        f"The tool 'crash' is unavailable: plugin 'versioned' crashed while handling this call in handler "
                        f"'versioned.crash' (killed by signal {signal}{', ' + name if name else ''}); it is being restarted. Try again."
                    )
                    # The next call waits for the restarted worker and succeeds.
                    following = await client.call_tool("answer", {})
                    assert following.is_error is False and text_of(following) == "v1", following.content
                    crash_windows.append((began, time.monotonic()))
                    line = server.wait_for_log(r"plugin worker died", since=mark)
                    assert f"killed by signal {signal}" in line and "in handler versioned.crash" in line and "1 call(s) failed" in line
                    # The crashed thread's backtrace, symbolicated to the fixture's source line, is in the log.
                    server.wait_for_log(r"plugin worker wrote to stderr", since=mark)
                    server.wait_for_log(r"Versioned\.swift:\d+", since=mark)
                    restarted = server.worker_pids()
                    assert len(restarted) == 1 and restarted[0] not in workers, (workers, restarted)
                    await wait_until(lambda: process_gone(workers[-1]), 5, f"worker {workers[-1]} gone")
                    workers.append(restarted[0])
                    assert server.plugin_status("versioned")["worker_restarts"] == number
                # A crash tool that does not crash answers normally on the restarted worker.
                survived = await client.call_tool("crash", {"mode": "none"})
                assert survived.is_error is False and text_of(survived) == "v1 survived"
            await anyio.sleep(0.1)
            crashes_done.set()

    assert server.is_running(), "the host died"
    errors = [error for _, error in say_results if error is not None]
    assert errors == [], errors
    during = [finished for finished, _ in say_results if any(began <= finished <= ended for began, ended in crash_windows)]
    assert len(during) >= 2, f"only {len(during)} say calls ran during the crashes"
    status = server.status()
    assert status["generation"] == 1  # a worker restart is no reload
    assert server.plugin_status("versioned")["worker_restarts"] == 2
    assert server.plugin_status("demo")["digest"] == demo["digest"]


async def test_reloading_an_isolated_plugin_replaces_its_worker(versioned_server):
    server = isolated_server(versioned_server, "worker_reload")
    [old_worker] = server.worker_pids()
    async with connect(server.url, "legacy") as client, connect(server.url, "legacy") as slow_client:
        assert text_of(await client.call_tool("answer", {})) == "v1"
        running = anyio.Event()
        progress: list[str] = []
        slow: dict[str, str] = {}

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            progress.append(message or "")
            running.set()

        async def slow_call() -> None:
            result = await slow_client.call_tool("slow", {"steps": 4, "delay_ms": 300}, progress_callback=on_progress)
            slow["text"] = text_of(result)

        with anyio.fail_after(30):
            async with anyio.create_task_group() as group:
                # A call in flight on the old worker when the reload happens.
                group.start_soon(slow_call)
                await running.wait()
                server.install_library("versioned", built_library(VERSIONED_V2), VERSIONED_LIBRARY)
                done = await anyio.to_thread.run_sync(server.reload)
                assert done.returncode == 0, done.stdout + done.stderr
                assert "loaded: versioned" in done.stdout and "carried over: demo" in done.stdout
                assert text_of(await client.call_tool("answer", {})) == "v2"
                # Two workers now: the new one serves, the old one finishes its call.
                assert "text" not in slow
                workers = server.worker_pids()
                assert len(workers) == 2 and old_worker in workers, workers
        assert slow["text"] == "v1 finished 4 steps"
        assert progress == ["v1"] * 4
        await wait_until(lambda: process_gone(old_worker), 5, f"the old worker {old_worker} gone")
        [new_worker] = server.worker_pids()
        assert new_worker != old_worker
        versioned = server.plugin_status("versioned")
        assert versioned["library_version"] == "2.0.0"
        assert versioned["isolation"] == "process"
        assert versioned["worker_restarts"] == 0  # a new instance, not a restart
        # The new worker runs the private copy of v2 (named after its digest).
        arguments = open(f"/proc/{new_worker}/cmdline", "rb").read().decode().split("\0")
        library = arguments[arguments.index("--library") + 1]
        assert library.startswith(f"{server.state_dir}/libraries/versioned-{versioned['digest'][:32]}")

        # Back to in-process by config (override removed): the worker goes, the host answers.
        server.isolation = {}
        server.rewrite_config()
        done = await anyio.to_thread.run_sync(server.reload)
        assert done.returncode == 0, done.stdout + done.stderr
        assert text_of(await client.call_tool("answer", {})) == "v2"
        await wait_until(lambda: process_gone(new_worker), 5, f"the worker {new_worker} gone")
        assert server.worker_pids() == []
        assert server.plugin_status("versioned")["isolation"] == "in_process"
    assert server.is_running()



# Tries of the set-up below before the test gives up on this machine.
SLOW_EXIT_ATTEMPTS = 3


async def test_retiring_a_worker_slow_to_exit_leaves_other_connections_alone(versioned_server):
    """Retiring a worker closes its input; the worker then exits in its own time (or is killed
    after 2 s). Connections the host accepts meanwhile must not be affected by that clean-up.

    The old worker is paused (SIGSTOP) across the reload and resumed once new connections are
    open: a worker whose shutdown takes a moment, made deterministic. The connections must be
    open before the worker is gone; on a machine too slow to open them within the host's 2 s the
    set-up is tried again, and the test is skipped if it never manages."""
    server = isolated_server(versioned_server, "slow_exit")
    ended: list[str] = []  # connections the host cut, over every attempt

    async def hold_stream(streams: list[str], stop: anyio.Event) -> None:
        # A handshake-era GET stream: a connection the host keeps until the client leaves.
        # `streams` gets one entry per open stream, "notified" once a tools list_changed came.
        async with httpx2.AsyncClient(timeout=httpx2.Timeout(10.0, read=None)) as http:
            async with http.stream("GET", server.url, headers={"Accept": "text/event-stream", "MCP-Protocol-Version": LEGACY}) as stream:
                assert stream.status_code == 200
                index = len(streams)
                streams.append("open")
                async with anyio.create_task_group() as group:

                    async def read() -> None:
                        text = ""
                        try:
                            async for chunk in stream.aiter_text():
                                text += chunk
                                if "notifications/tools/list_changed" in text:
                                    streams[index] = "notified"
                            ended.append("closed by the host")
                        except httpx2.HTTPError as error:
                            ended.append(f"{type(error).__name__}: {error}")
                        streams[index] = "ended"
                        group.cancel_scope.cancel()

                    group.start_soon(read)
                    await stop.wait()
                    group.cancel_scope.cancel()

    async def attempt(number: int, build: str) -> bool:
        """Retires the worker while it is paused and opens the connections meanwhile; False when
        the host had killed the worker before they were all open (nothing was tested then)."""
        [old_worker] = server.worker_pids()
        os.kill(old_worker, signal.SIGSTOP)
        try:
            server.install_library("versioned", built_library(build), VERSIONED_LIBRARY)
            done = await anyio.to_thread.run_sync(server.reload)
            assert done.returncode == 0, done.stdout + done.stderr
            streams: list[str] = []
            stop = anyio.Event()
            async with anyio.create_task_group() as group:
                for _ in range(STREAMS):
                    group.start_soon(hold_stream, streams, stop)
                await wait_until(lambda: len(streams) == STREAMS, 30, f"{STREAMS} connections open")
                if process_gone(old_worker):
                    stop.set()
                    return False
                os.kill(old_worker, signal.SIGCONT)  # now it sees the end of its input and exits
                await wait_until(lambda: process_gone(old_worker), 5, f"the old worker {old_worker} gone")
                # The host has reaped it (and closes its side of the worker's pipes on that):
                # every connection must still carry what the host sends next, here the news that
                # a tool's description changed. This waits for that instead of a fixed pause.
                server.tool_overlays = {"divide": {"description": f"Divides (attempt {number})."}}
                server.rewrite_config()
                done = await anyio.to_thread.run_sync(server.reload)
                assert done.returncode == 0, done.stdout + done.stderr
                await wait_until(lambda: "open" not in streams, 10, f"every connection notified or ended: {streams}")
                stop.set()
            return True
        finally:
            if not process_gone(old_worker):
                os.kill(old_worker, signal.SIGCONT)

    with anyio.fail_after(60 * SLOW_EXIT_ATTEMPTS):
        for number in range(1, SLOW_EXIT_ATTEMPTS + 1):
            build = VERSIONED_V2 if number % 2 else VERSIONED_V1
            if tested := await attempt(number, build):
                break
    crash = server.find_log(r"Precondition failed|Fatal error|Program crashed")
    assert server.is_running(), f"the host died: {crash}"
    assert crash is None, crash
    assert ended == [], f"{len(ended)} of {STREAMS} connections were cut when the old worker exited: {ended}"
    async with connect(server.url, "legacy") as client:
        assert text_of(await client.call_tool("answer", {})) == BUILDS[build]
    if not tested:
        pytest.skip(
            f"this machine is too slow for this test: {SLOW_EXIT_ATTEMPTS} times, opening {STREAMS} connections took longer "
            "than the host waits (2 s) for a retired worker before it kills it")
