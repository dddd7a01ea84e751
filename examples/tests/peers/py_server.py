"""An MCP server built on the official Python SDK (FastMCP over Streamable
HTTP), run as an upstream of mcp-gateway by the gateway peer tests
(tests/it/gateway/peers.rs). One tool, `add`.

It binds 127.0.0.1 on a port the system picks, prints its endpoint URL as
its only line on stdout and serves until killed. The session manager is
stateful (FastMCP's default): the gateway must carry Mcp-Session-Id.
"""

import asyncio
import socket

import uvicorn
from mcp.server.fastmcp import FastMCP

server = FastMCP("py-peer", log_level="WARNING")


@server.tool()
def add(a: int, b: int) -> int:
    """Adds two integers."""
    return a + b


async def main() -> None:
    # Bound and listening before the URL is printed: a connection made as
    # soon as the test reads it waits in the backlog until uvicorn accepts.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    config = uvicorn.Config(server.streamable_http_app(), log_level="warning")
    print(f"http://127.0.0.1:{port}/mcp", flush=True)
    await uvicorn.Server(config).serve(sockets=[sock])


asyncio.run(main())
