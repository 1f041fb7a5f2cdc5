"""A plugin whose create entry point fails is refused; the other plugins are served regardless."""

from __future__ import annotations

import pytest
from mcp.shared.exceptions import MCPError

from support import DEMO_TOOLS, connect, text_of

pytestmark = pytest.mark.anyio


async def test_init_failure_is_logged_and_demo_still_serves(fail_init_server):
    line = await fail_init_server.await_log(r"plugin refused: .*plugin init failed")
    assert "'misbehaving'" in line
    assert "refusing to start: fail_init is set" in line
    assert "broken/manifest.yaml" in line

    async with connect(fail_init_server.url, "legacy") as client:
        listing = await client.list_tools()
        assert sorted(tool.name for tool in listing.tools) == sorted(DEMO_TOOLS)
        result = await client.call_tool("say", {"text": "demo survives"})
        assert text_of(result) == "demo survives"
        with pytest.raises(MCPError) as raised:
            await client.call_tool("whoami", {})
        assert raised.value.error.code == -32602
    assert fail_init_server.is_running()
