import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { RunningGateway } from "../../src/server/start-gateway.js";

/**
 * The gateway's HTTP mounts (the MCP endpoint) served on a node:http server of the test's own, as the HTTP
 * listener will serve them (until that listener is merged), so real SDK clients reach them over a real socket.
 */
export interface McpEndpoint {
  readonly url: string;
  readonly origin: string;
  connect(token: string): Promise<Client>;
  close(): Promise<void>;
}

export async function serveMcpEndpoint(gateway: RunningGateway): Promise<McpEndpoint> {
  const mounts = gateway.httpMounts;
  if (mounts.length === 0) throw new Error("no HTTP mounts: set listen.http in the gateway config");
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://x").pathname;
    const mount = mounts.find((m) =>
      m.paths.some((prefix) => path === prefix || path.startsWith(`${prefix}/`)),
    );
    if (mount === undefined) return void response.writeHead(404).end();
    void mount.handle(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clients: Client[] = [];
  return {
    url: `${origin}/mcp`,
    origin,
    async connect(token) {
      const client = new Client({ name: "latch-test-agent", version: "1.0.0" });
      const transport = new StreamableHTTPClientTransport(new URL(`${origin}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      });
      await client.connect(transport);
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
