// An MCP server built on the official TypeScript SDK (McpServer over
// stdio), run as an upstream of mcp-gateway by the gateway peer tests
// (tests/it/gateway/peers.rs). One tool, `shout`, which upper-cases its
// text. The SDK is resolved through NODE_PATH, which require() honours;
// zod from the SDK's own place, wherever npm put the copy it depends on.
'use strict';

const { createRequire } = require('node:module');
const { McpServer } = require('@modelcontextprotocol/sdk/server/mcp.js');
const { StdioServerTransport } = require('@modelcontextprotocol/sdk/server/stdio.js');
const { z } = createRequire(require.resolve('@modelcontextprotocol/sdk/server/mcp.js'))('zod');

const server = new McpServer({ name: 'ts-peer', version: '1.0.0' });
server.registerTool(
  'shout',
  { description: 'Upper-cases the text', inputSchema: { text: z.string() } },
  async ({ text }) => ({ content: [{ type: 'text', text: `${text.toUpperCase()}!` }] }),
);

server.connect(new StdioServerTransport()).catch((err) => {
  console.error(err);
  process.exit(1);
});
