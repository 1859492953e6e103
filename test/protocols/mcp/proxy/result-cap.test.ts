import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type McpEndpoint, serveMcpEndpoint } from "../../../support/mcp-endpoint.js";
import { startTestGateway, type TestGateway } from "../../../support/test-gateway.js";
import { call } from "../mcp-fixture.js";
import { startUpstreamMcpServer, type UpstreamMcpServer } from "./upstream-mcp-server.js";

// connections.<name>.max_result_bytes end to end: a real SDK-built upstream MCP server over Streamable HTTP,
// the official SDK client against Latch's /mcp, the refusal on record.
let upstream: UpstreamMcpServer;
let gw: TestGateway;
let mcp: McpEndpoint;
let agent: Client;

beforeAll(async () => {
  upstream = await startUpstreamMcpServer({ big: true });
  gw = await startTestGateway(undefined, {
    policy: `permit(principal in Group::"agents", action == Action::"mcp:call_tool", resource);\n`,
    overrides: {
      listen: { admin: "127.0.0.1:0", http: "127.0.0.1:0" },
      masking: { pii: { detectors: ["email"] } },
      connections: {
        capped: { type: "mcp", upstream: upstream.url, masking: ["pii"], max_result_bytes: 4096 },
        roomy: { type: "mcp", upstream: upstream.url, masking: ["pii"] },
      },
    },
  });
  mcp = await serveMcpEndpoint(gw.gateway);
  agent = await mcp.connect(await gw.token("agent-1", ["agents"]));
}, 120_000);

afterAll(async () => {
  await mcp?.close();
  await gw?.stop();
  await upstream?.close();
});

const text = (answer: { content: unknown[] }) =>
  (answer.content as { type: string; text?: string }[]).map((block) => block.text ?? "").join("\n");

describe("MCP proxy result size cap", () => {
  it("refuses a result over max_result_bytes, naming the limit and the fix, and records the refusal", async () => {
    const small = await call(agent, "capped__big", { bytes: 4000 });
    expect(small.isError).toBeFalsy();
    expect(text(small)).toHaveLength(4000);
    expect(text(small)).not.toContain("ada@example.com"); // masked as before

    const big = await call(agent, "capped__big", { bytes: 5000 });
    expect(big.isError).toBe(true);
    expect(big.structuredContent).toMatchObject({ error: "mcp_result_too_large" });
    const message = text(big);
    expect(message).toContain("limit of 4096 bytes");
    expect(message).toContain("connections.capped.max_result_bytes");
    expect(message).not.toContain("ada@example.com");
    expect(message).not.toContain("x x x");

    // The default cap (8 MiB) lets a 1 MiB result through.
    const roomy = await call(agent, "roomy__big", { bytes: 1024 * 1024 });
    expect(roomy.isError).toBeFalsy();
    expect(text(roomy)).toHaveLength(1024 * 1024);

    await gw.gateway.flushAudit();
    const results = await gw.gateway.audit.events({ kind: "operation_result" as never, limit: 1000 });
    const refused = results.filter(
      (event) => (event.data.error as { code?: string } | undefined)?.code === "mcp_result_too_large",
    );
    expect(refused).toHaveLength(1);
    expect(refused[0]!.data).toMatchObject({ tool: "capped__big", resultBytes: 5000 });
    expect(JSON.stringify(results)).not.toContain("ada@example.com");
    // The upstream ran each call once: the cap refuses the result, it does not retry or re-ask.
    expect(upstream.calls.filter((c) => c.tool === "big")).toHaveLength(3);
  }, 60_000);
});
