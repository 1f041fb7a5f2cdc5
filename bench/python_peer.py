"""The peer in the benchmark: the official Python MCP SDK (PyPI `mcp`, 2.x) serving the same
trivial tool statelessly with JSON responses, under uvicorn with one worker."""
import sys

import uvicorn
from mcp.server.mcpserver import MCPServer

server = MCPServer("python-peer")


@server.tool()
def say(text: str) -> str:
    """Repeats the given text."""
    return text


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8092
    app = server.streamable_http_app(stateless_http=True, json_response=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
