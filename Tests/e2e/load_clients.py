"""Load generator for test_reload.py (not a test): official MCP clients in legacy mode, each
calling one tool in a loop for a fixed wall-clock window, in a process of its own.

One Python process with the official client tops out at about 250 calls/s on the project's 2-core
machine (the client, not the server, is the limit), so the test starts two of these processes to
keep the load up while reloads, slow calls and checks run in the test process.

    python load_clients.py --url URL --clients N --start-at EPOCH --duration S --tool NAME

Prints one JSON object: every call as [started, finished, answer] (wall-clock seconds, so the test
can line calls up against its reloads), and the failures (exceptions, error results).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from support import connect  # noqa: E402

MAX_FAILURES_KEPT = 50


async def run(url: str, clients: int, start_at: float, duration: float, tool: str) -> dict:
    calls: list[tuple[float, float, str]] = []
    failures: list[str] = []
    failure_count = 0
    end_at = start_at + duration

    def fail(what: str) -> None:
        nonlocal failure_count
        failure_count += 1
        if len(failures) < MAX_FAILURES_KEPT:
            failures.append(f"{time.time() - start_at:+.3f}s {what}")

    async def client_loop(index: int) -> None:
        try:
            async with connect(url, "legacy") as client:
                await client.list_tools()  # so call_tool needs no extra tools/list to validate
                await anyio.sleep(max(0.0, start_at - time.time()))
                while (started := time.time()) < end_at:
                    try:
                        result = await client.call_tool(tool, {})
                    except Exception as error:  # every failure counts; the test asserts there are none
                        fail(f"client {index}: {type(error).__name__}: {error}")
                        continue
                    finished = time.time()
                    texts = [block.text for block in result.content if block.type == "text"]
                    if result.is_error or len(texts) != 1:
                        fail(f"client {index}: error result {result.content!r}")
                        continue
                    calls.append((started, finished, texts[0]))
        except BaseException as error:  # the session itself broke down
            if isinstance(error, anyio.get_cancelled_exc_class()):
                raise
            fail(f"client {index}: session failed: {type(error).__name__}: {error!r}")

    async with anyio.create_task_group() as group:
        for index in range(clients):
            group.start_soon(client_loop, index)
    return {"calls": calls, "failures": failures, "failure_count": failure_count}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--start-at", type=float, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--tool", default="answer")
    arguments = parser.parse_args()
    summary = anyio.run(run, arguments.url, arguments.clients, arguments.start_at, arguments.duration, arguments.tool)
    json.dump(summary, sys.stdout)


if __name__ == "__main__":
    main()
