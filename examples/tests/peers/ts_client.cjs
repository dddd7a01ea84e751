// A client built on the official TypeScript SDK (Client over Streamable
// HTTP), used by the gateway peer tests (tests/it/gateway/peers.rs):
//
//   node ts_client.cjs <url> '{"tool": {arguments}, ...}'
//
// It lists every tool (all pages), calls each tool named in the second
// argument, prints one JSON line {protocolVersion, tools, results} on
// stdout for the test to check, and exits non-zero on any error. The SDK is
// resolved through NODE_PATH, which require() honours.
'use strict';

const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js');

async function main() {
  const [url, calls] = process.argv.slice(2);
  const client = new Client({ name: 'ts-peer-client', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport);
  const tools = [];
  let cursor;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    tools.push(...page.tools.map((t) => t.name));
    cursor = page.nextCursor;
  } while (cursor);
  const results = {};
  for (const [name, args] of Object.entries(JSON.parse(calls))) {
    results[name] = await client.callTool({ name, arguments: args });
  }
  const protocolVersion = transport.protocolVersion;
  // Ends the session (DELETE) so the gateway sees a clean goodbye.
  await transport.terminateSession();
  await client.close();
  process.stdout.write(`${JSON.stringify({ protocolVersion, tools, results })}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
