"""Metrics and JSON logs of a real `plugboard serve`, after the official client has called tools:
`/metrics` scraped on `server.metrics_listen`, and the log read back line by line as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import httpx2
import pytest

from support import LOCAL_OWNER, PlugboardServer, connect, free_port, plugin_manifest

pytestmark = pytest.mark.anyio


class ObservedServer(PlugboardServer):
    """A server with `server.metrics_listen` set and `logging.format: json`."""

    def __init__(self, *args, **options) -> None:
        super().__init__(*args, **options)
        self.metrics_port = free_port()

    def config_text(self, port: int) -> str:
        text = super().config_text(port)
        text = text.replace("server:\n", f"server:\n  metrics_listen: '127.0.0.1:{self.metrics_port}'\n", 1)
        return text.replace("  level: debug\n", "  level: debug\n  format: json\n", 1)

    def scrape(self) -> tuple[httpx2.Response, dict[str, float]]:
        response = httpx2.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10.0)
        series = {}
        for line in response.text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                series[name] = float(value)
        return response, series


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path) -> Iterator[ObservedServer]:
    server = ObservedServer("observed", tmp_path_factory.mktemp("observed"), artifacts_dir, {"demo": plugin_manifest("demo")})
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_metrics_count_what_the_official_client_did(observed):
    async with connect(observed.url, "legacy") as client:
        said = await client.call_tool("say", {"text": "counted"})
        failed = await client.call_tool("divide", {"dividend": 1, "divisor": 0})
    assert said.is_error is False and failed.is_error is True

    response, series = observed.scrape()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    expected = {
        'plugboard_tool_calls_total{tool="say",plugin="demo",outcome="ok"}': 1,
        'plugboard_tool_calls_total{tool="divide",plugin="demo",outcome="tool_error"}': 1,
        'plugboard_tool_call_duration_seconds_count{tool="say",plugin="demo"}': 1,
        'plugboard_mcp_requests_total{method="initialize",outcome="ok"}': 1,
        'plugboard_mcp_requests_total{method="tools/call",outcome="ok"}': 1,
        'plugboard_mcp_requests_total{method="tools/call",outcome="tool_error"}': 1,
        'plugboard_mcp_request_duration_seconds_count{method="tools/call"}': 2,
        "plugboard_mcp_requests_in_flight": 0,
        "plugboard_generation": 1,
    }
    for name, value in expected.items():
        assert series.get(name) == value, f"{name} in\n{response.text}"
    assert LOCAL_OWNER not in response.text, "no series is labelled by owner"
    # The MCP port does not serve metrics.
    assert httpx2.get(f"{observed.base_url}/metrics", timeout=10.0).status_code == 404


async def test_json_log_lines_describe_each_request(observed):
    async with connect(observed.url, "legacy") as client:
        await client.call_tool("say", {"text": "logged"})

    records = []
    for line in observed.log_text().splitlines():
        if line.startswith("=== "):
            continue  # the test harness's own marker between starts
        record = json.loads(line)  # every line the server wrote is one JSON object
        assert {"timestamp", "level", "label", "message"} <= record.keys(), line
        records.append(record)
    served = [r for r in records if r["message"] == "request served" and r.get("metadata", {}).get("tool") == "say"]
    assert served, "no completion line for tools/call say"
    metadata = served[-1]["metadata"]
    assert metadata["method"] == "tools/call"
    assert metadata["owner"] == LOCAL_OWNER
    assert metadata["outcome"] == "ok"
    assert metadata["request"]  # the JSON-RPC id the client sent
    assert isinstance(metadata["duration_ms"], float) and metadata["duration_ms"] > 0
