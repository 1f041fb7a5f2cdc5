"""Raw HTTP against the Streamable HTTP endpoint: every status the transport can answer with."""

from __future__ import annotations

import json
import re

import httpx2
import pytest

from support import ALL_VERSIONS, MODERN, json_headers, modern_meta, rpc


@pytest.fixture
def http(server):
    with httpx2.Client(base_url=server.base_url, timeout=30.0, follow_redirects=False) as client:
        yield client


def rpc_error(response: httpx2.Response, code: int, id: object = None) -> dict:
    """Checks a JSON-RPC error body and returns its error object."""
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["jsonrpc"] == "2.0"
    assert "result" not in body
    assert body["id"] == id
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def ping_ok(http: httpx2.Client, path: str = "/mcp") -> None:
    response = http.post(path, headers=json_headers(), content=rpc("ping", id=7))
    assert response.status_code == 200
    assert response.json() == {"jsonrpc": "2.0", "id": 7, "result": {}}


# -- 2xx ------------------------------------------------------------------------------------------


def test_request_200(http):
    ping_ok(http)


def test_notification_202(http):
    response = http.post("/mcp", headers=json_headers(), content=rpc("notifications/initialized", id=None))
    assert response.status_code == 202
    assert response.content == b""


def test_client_response_202(http):
    # A JSON-RPC response from the client (to a request this server never sends) is accepted.
    response = http.post("/mcp", headers=json_headers(), content=json.dumps({"jsonrpc": "2.0", "id": 5, "result": {}}))
    assert response.status_code == 202
    assert response.content == b""


def test_trailing_slash_is_served_without_redirect(http):
    response = http.post("/mcp/", headers=json_headers(), content=rpc("ping", id=8))
    assert response.status_code == 200
    assert "location" not in response.headers
    assert response.json() == {"jsonrpc": "2.0", "id": 8, "result": {}}


def test_no_protocol_version_header_is_assumed_2025_03_26(http):
    # The 2025-06-18 transport rule: without the header the server assumes 2025-03-26.
    response = http.post("/mcp", headers=json_headers(version=None), content=rpc("tools/list", id=3))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == 3
    assert "say" in [tool["name"] for tool in body["result"]["tools"]]
    assert "resultType" not in body["result"]  # a handshake-era answer


def test_initialize_negotiates_a_supported_version(http):
    params = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "e2e", "version": "0"}}
    response = http.post("/mcp", headers=json_headers(version=None), content=rpc("initialize", params, id=1))
    assert response.status_code == 200
    result = response.json()["result"]
    assert result["protocolVersion"] == "2025-06-18"
    assert result["serverInfo"]["name"] == "plugboard"
    # A session id is issued only to namespace request ids for cancellation: visible ASCII,
    # random, and never required (the next test calls without it).
    session = response.headers["mcp-session-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", session)
    other = http.post("/mcp", headers=json_headers(version=None), content=rpc("initialize", params, id=3))
    assert other.headers["mcp-session-id"] != session
    stale = http.post(
        "/mcp", headers=json_headers("2025-06-18", **{"Mcp-Session-Id": "no-such-session"}), content=rpc("ping", {}, id=4)
    )
    assert stale.status_code == 200 and stale.json()["result"] == {}

    params["protocolVersion"] = "1999-01-01"
    response = http.post("/mcp", headers=json_headers(version=None), content=rpc("initialize", params, id=2))
    assert response.status_code == 200
    assert response.json()["result"]["protocolVersion"] == "2025-11-25"


def test_accept_event_stream_only_gets_an_event_stream(http):
    response = http.post(
        "/mcp", headers=json_headers(Accept="text/event-stream"), content=rpc("tools/call", {"name": "say", "arguments": {"text": "sse"}}, id=7)
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    events = [line[len("data: "):] for line in response.text.splitlines() if line.startswith("data: ")]
    assert [json.loads(event) for event in events] == [
        {"jsonrpc": "2.0", "id": 7, "result": {"content": [{"type": "text", "text": "sse"}]}}
    ]


def test_modern_request_200(http):
    response = http.post(
        "/mcp",
        headers=json_headers(MODERN, **{"Mcp-Method": "tools/call", "Mcp-Name": "say"}),
        content=rpc("tools/call", {"name": "say", "arguments": {"text": "modern"}, "_meta": modern_meta()}, id="m1"),
    )
    assert response.status_code == 200
    result = response.json()["result"]
    assert result["content"] == [{"type": "text", "text": "modern"}]
    assert result["resultType"] == "complete"
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "plugboard"


# -- 400 ------------------------------------------------------------------------------------------


def test_malformed_json_400_parse_error(http):
    response = http.post("/mcp", headers=json_headers(), content=b'{"jsonrpc": "2.0", "id": 1, "method": ')
    assert response.status_code == 400
    rpc_error(response, -32700)


def test_json_array_body_400_invalid_request(http):
    batch = json.dumps([{"jsonrpc": "2.0", "id": 1, "method": "ping"}, {"jsonrpc": "2.0", "id": 2, "method": "ping"}])
    response = http.post("/mcp", headers=json_headers(), content=batch)
    assert response.status_code == 400
    rpc_error(response, -32600)


def test_not_jsonrpc_400_invalid_request(http):
    response = http.post("/mcp", headers=json_headers(), content=json.dumps({"id": 4, "method": "ping"}))
    assert response.status_code == 400
    rpc_error(response, -32600, id=4)


def test_unsupported_protocol_version_400(http):
    response = http.post("/mcp", headers=json_headers("1999-01-01"), content=rpc("tools/list", id=11))
    assert response.status_code == 400
    error = rpc_error(response, -32022, id=11)
    assert error["data"]["supported"] == ALL_VERSIONS
    assert error["data"]["requested"] == "1999-01-01"


def test_modern_method_header_mismatch_400(http):
    response = http.post(
        "/mcp",
        headers=json_headers(MODERN, **{"Mcp-Method": "prompts/list"}),
        content=rpc("tools/list", {"_meta": modern_meta()}, id=12),
    )
    assert response.status_code == 400
    error = rpc_error(response, -32020, id=12)
    assert "prompts/list" in error["message"] and "tools/list" in error["message"]


def test_modern_missing_method_header_400(http):
    response = http.post("/mcp", headers=json_headers(MODERN), content=rpc("tools/list", {"_meta": modern_meta()}, id=13))
    assert response.status_code == 400
    rpc_error(response, -32020, id=13)


def test_modern_name_header_mismatch_400(http):
    response = http.post(
        "/mcp",
        headers=json_headers(MODERN, **{"Mcp-Method": "tools/call", "Mcp-Name": "echo"}),
        content=rpc("tools/call", {"name": "say", "arguments": {"text": "x"}, "_meta": modern_meta()}, id=14),
    )
    assert response.status_code == 400
    rpc_error(response, -32020, id=14)


def test_modern_missing_meta_400_invalid_params(http):
    response = http.post("/mcp", headers=json_headers(MODERN, **{"Mcp-Method": "tools/list"}), content=rpc("tools/list", id=15))
    assert response.status_code == 400
    error = rpc_error(response, -32602, id=15)
    assert "io.modelcontextprotocol/protocolVersion" in error["message"]


def test_modern_missing_client_capabilities_400(http):
    meta = {"io.modelcontextprotocol/protocolVersion": MODERN}
    response = http.post(
        "/mcp", headers=json_headers(MODERN, **{"Mcp-Method": "tools/list"}), content=rpc("tools/list", {"_meta": meta}, id=16)
    )
    assert response.status_code == 400
    error = rpc_error(response, -32602, id=16)
    assert "clientCapabilities" in error["message"]


# -- 403 / 421: cross-site and DNS-rebinding protection -------------------------------------------


def test_foreign_origin_403(http):
    response = http.post("/mcp", headers=json_headers(Origin="http://evil.example.com"), content=rpc("ping"))
    assert response.status_code == 403
    error = rpc_error(response, -32600)
    assert "evil.example.com" in error["message"]


def test_loopback_origin_200(http):
    response = http.post("/mcp", headers=json_headers(Origin="http://localhost:1234"), content=rpc("ping", id=21))
    assert response.status_code == 200
    assert response.json() == {"jsonrpc": "2.0", "id": 21, "result": {}}


def test_foreign_host_421(http):
    response = http.post("/mcp", headers=json_headers(Host="evil.example.com"), content=rpc("ping"))
    assert response.status_code == 421
    error = rpc_error(response, -32600)
    assert "evil.example.com" in error["message"]


def test_loopback_host_name_200(http, server):
    response = http.post("/mcp", headers=json_headers(Host=f"localhost:{server.port}"), content=rpc("ping", id=22))
    assert response.status_code == 200


# -- 404 ------------------------------------------------------------------------------------------


def test_modern_unknown_method_404(http):
    response = http.post(
        "/mcp", headers=json_headers(MODERN, **{"Mcp-Method": "nothing/here"}), content=rpc("nothing/here", {"_meta": modern_meta()}, id=31)
    )
    assert response.status_code == 404
    error = rpc_error(response, -32601, id=31)
    assert "nothing/here" in error["message"]


def test_legacy_unknown_method_is_200_with_error(http):
    # Before 2026-07-28 a JSON-RPC error travels with 200.
    response = http.post("/mcp", headers=json_headers(), content=rpc("nothing/here", id=32))
    assert response.status_code == 200
    rpc_error(response, -32601, id=32)


def test_unknown_path_404(http):
    response = http.post("/not-mcp", headers=json_headers(), content=rpc("ping"))
    assert response.status_code == 404
    response = http.get("/mcp/deeper/still")
    assert response.status_code == 404


# -- 405 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["DELETE", "PUT"])
def test_non_post_405_with_allow(http, method):
    response = http.request(method, "/mcp", headers={"Accept": "application/json, text/event-stream"})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    rpc_error(response, -32600)


def test_get_in_the_modern_era_405(http):
    response = http.get("/mcp", headers={"Accept": "text/event-stream", "MCP-Protocol-Version": MODERN})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


def test_get_without_event_stream_406(http):
    response = http.get("/mcp", headers={"Accept": "application/json"})
    assert response.status_code == 406
    rpc_error(response, -32600)


def test_get_opens_the_notification_stream(http):
    """GET is the handshake era's standalone stream: it stays open, kept alive by comments."""
    with http.stream("GET", "/mcp", headers={"Accept": "text/event-stream"}, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        first = next(response.iter_text())
    assert first == ": keep-alive\n\n"


# -- 406 / 413 / 415 ------------------------------------------------------------------------------


def test_unacceptable_accept_406(http):
    response = http.post("/mcp", headers=json_headers(Accept="text/html"), content=rpc("ping"))
    assert response.status_code == 406
    rpc_error(response, -32600)


def test_body_over_the_limit_413_and_server_survives(server):
    body = b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"' + b"x" * (10 * 1024 * 1024) + b'"}}'
    # A connection of its own: the server may close it after refusing the body.
    with httpx2.Client(base_url=server.base_url, timeout=60.0) as http:
        response = http.post("/mcp", headers=json_headers(), content=body)
    assert response.status_code == 413
    error = rpc_error(response, -32600)
    assert "4194304" in error["message"]
    with httpx2.Client(base_url=server.base_url, timeout=30.0) as http:
        ping_ok(http)
    assert server.is_running()


def test_wrong_content_type_415(http):
    response = http.post("/mcp", headers=json_headers(**{"Content-Type": "text/plain"}), content=rpc("ping"))
    assert response.status_code == 415
    rpc_error(response, -32600)


def test_content_type_with_charset_is_json(http):
    response = http.post("/mcp", headers=json_headers(**{"Content-Type": "application/json; charset=utf-8"}), content=rpc("ping", id=41))
    assert response.status_code == 200


# -- health ---------------------------------------------------------------------------------------


def test_health_and_readiness(http):
    assert http.get("/healthz").text == "ok\n"
    ready = http.get("/readyz")
    assert ready.status_code == 200
    assert ready.text == "ready\n"
