// A stdio MCP server built with the official SDK, started by the gateway for `command:` connections (one process
// per MCP session). It tells whether the secret the gateway put in its environment arrived, and answers with an
// e-mail address for masking to find.
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";

const server = new Server({ name: "stdio-upstream", version: "1.0.0" }, { capabilities: { tools: {} } });
server.setRequestHandler(ListToolsRequestSchema, () => ({
  tools: [{ name: "whoami", description: "Who runs this server.", inputSchema: { type: "object" } }],
}));
server.setRequestHandler(CallToolRequestSchema, () => ({
  content: [
    {
      type: "text",
      text: `secret ${process.env.STDIO_SECRET === "stdio-s3cret" ? "arrived" : "missing"}; owner ops@example.com; pid ${process.pid}`,
    },
  ],
}));
await server.connect(new StdioServerTransport());
