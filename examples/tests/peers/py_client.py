"""A client built on the official Python SDK (ClientSession over
Streamable HTTP), used by the gateway peer tests
(tests/it/gateway/peers.rs):

    python py_client.py <url> '{"tool": {arguments}, ...}'

It lists every tool (all pages), calls each tool named in the second
argument, prints one JSON line {protocolVersion, tools, results} on stdout
for the test to check, and exits non-zero on any error.
"""

import asyncio
import json
import sys

from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client


async def main(url: str, calls: dict) -> None:
    async with streamable_http_client(url) as (read, write, _):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            tools = []
            cursor = None
            while True:
                page = await session.list_tools(cursor=cursor)
                tools += [t.name for t in page.tools]
                cursor = page.nextCursor
                if not cursor:
                    break
            results = {}
            for name, arguments in calls.items():
                result = await session.call_tool(name, arguments)
                results[name] = result.model_dump(mode="json", exclude_none=True)
    out = {"protocolVersion": init.protocolVersion, "tools": tools, "results": results}
    print(json.dumps(out), flush=True)


asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))
