"""`plugboard stdio` driven by the SDK's stdio client: the server is its child process."""

from __future__ import annotations

import anyio
import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

from support import DEMO_TOOLS, ECHO_C_TOOLS, LEGACY, MISBEHAVING_TOOLS, NOTES_TOOLS, SERVER_NAME, text_of

pytestmark = pytest.mark.anyio


async def test_stdio_lists_and_calls_tools(stdio_server):
    params = StdioServerParameters(
        command=str(stdio_server.binary),
        args=["stdio", "--config", str(stdio_server.config_path)],
        cwd=str(stdio_server.workdir),
    )
    updates: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append(progress)

    # The server logs to stderr (stdout carries the protocol): keep it with the other logs.
    with open(stdio_server.log_path, "w") as errlog:
        with anyio.fail_after(60):
            async with Client(stdio_client(params, errlog=errlog), mode="legacy", read_timeout_seconds=30.0) as client:
                assert client.protocol_version == LEGACY
                assert client.server_info is not None and client.server_info.name == SERVER_NAME

                listing = await client.list_tools()
                names = sorted(tool.name for tool in listing.tools)
                assert names == sorted(DEMO_TOOLS + ECHO_C_TOOLS + MISBEHAVING_TOOLS + NOTES_TOOLS)

                said = await client.call_tool("echo", {"text": "over stdio"})
                assert said.is_error is False
                assert text_of(said) == "over stdio"

                summed = await client.call_tool("add_integers", {"a": 40, "b": 2})
                assert summed.structured_content == {"sum": 42}

                counted = await client.call_tool("countdown", {"steps": 3, "delay_ms": 10}, progress_callback=on_progress)
                assert text_of(counted) == "Counted down 3 steps."
                assert updates == [1.0, 2.0, 3.0]

                owner = await client.call_tool("whoami", {})
                assert text_of(owner) == "owner=local"

    # Stdout stayed clean for the protocol; the log went to stderr.
    assert "plugin loaded" in stdio_server.log_text()
