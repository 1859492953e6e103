import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  ElicitationCompleteNotificationSchema,
  ElicitRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EchoUpstream } from "../../support/echo-upstream.js";
import type { McpEndpoint } from "../../support/mcp-endpoint.js";
import type { TestGateway } from "../../support/test-gateway.js";
import { call } from "./mcp-fixture.js";
import { type RemoteToolsFixture, SECRET, startRemoteToolsFixture } from "./remote-tools-fixture.js";

let f: RemoteToolsFixture;
let gw: TestGateway;
let mcp: McpEndpoint;
let upstream: EchoUpstream;
let agentToken: string;
beforeAll(async () => {
  f = await startRemoteToolsFixture();
  ({ gw, mcp, upstream, agentToken } = f);
}, 120_000);
afterAll(async () => f?.stop());
const events = (kind: string) => f.events(kind);
const api = (method: string, path: string, token: string, body?: unknown) => f.api(method, path, token, body);

// http_request against a real HTTP upstream through the official SDK client: the HTTP protocol's request core
// (normalisation, policy, injection, masking, recording); URL-mode elicitation; the bearer a session keeps.
describe("http_request", () => {
  it("sends through the HTTP core: injected credential, scrubbed answer, recorded as the tool call", async () => {
    const agent = await mcp.connect(agentToken);
    const answer = await call(agent, "http_request", {
      connection: "api",
      method: "GET",
      path: "/echo/items?limit=2",
    });
    expect(answer.isError).toBeFalsy();
    expect(answer.structuredContent).toMatchObject({
      status: 200,
      truncated: false,
      classification: { actions: ["http:GET"], readOnly: true },
    });
    const received = upstream.received.at(-1)!;
    expect(received.url).toBe("/echo/items?limit=2");
    expect(received.headers["x-api-key"]).toBe(`Key ${SECRET}`);
    expect(received.headers.authorization).toBeUndefined();
    expect(answer.structuredContent!.body as string).not.toContain(SECRET);
    expect(JSON.stringify(answer)).not.toContain(SECRET);
    const operation = (await events("operation")).findLast(
      (event) => (event.data as { mode?: string }).mode === "http_request",
    );
    expect((operation!.data as { statements: Record<string, unknown>[] }).statements[0]).toMatchObject({
      text: "GET /echo/items?limit=2",
      tool: "http_request",
    });
  });

  it("judges the body like a direct call: JSON POST allowed, other bodies denied", async () => {
    const agent = await mcp.connect(agentToken);
    const json = await call(agent, "http_request", {
      connection: "api",
      method: "POST",
      path: "/echo/orders",
      body: JSON.stringify({ amount: 5 }),
    });
    expect(json.structuredContent).toMatchObject({ status: 200 });
    expect(upstream.received.at(-1)!.headers["content-type"]).toBe("application/json");
    const text = await call(agent, "http_request", {
      connection: "api",
      method: "POST",
      path: "/echo/orders",
      body: "amount=5",
    });
    expect(text.isError).toBe(true);
    expect(text.structuredContent).toMatchObject({ error: "statement_denied" });
  });

  it("normalises the path before policy: a dot segment does not get around a forbid", async () => {
    const agent = await mcp.connect(agentToken);
    const before = upstream.received.length;
    const answer = await call(agent, "http_request", {
      connection: "api",
      method: "GET",
      path: "/echo/./admin/x",
    });
    expect(answer.isError).toBe(true);
    expect(answer.structuredContent).toMatchObject({ error: "statement_denied" });
    const bad = await call(agent, "http_request", { connection: "api", method: "GET", path: "no-slash" });
    expect(bad.isError).toBe(true);
    expect(upstream.received.length).toBe(before);
  });

  it("masks the response with the connection's detectors", async () => {
    const agent = await mcp.connect(agentToken);
    const answer = await call(agent, "http_request", {
      connection: "api",
      method: "GET",
      path: "/customers",
    });
    expect(answer.structuredContent).toMatchObject({ status: 200 });
    const body = answer.structuredContent!.body as string;
    expect(body).toContain("Ada");
    expect(body).not.toContain("ada@example.com");
    expect(body).not.toContain("4111 1111 1111 1111");
  });

  it("a call needing approval is pending; approved, the same call runs once", async () => {
    const agent = await mcp.connect(agentToken);
    const args = { connection: "api", method: "DELETE", path: `/echo/orders/${Date.now()}` };
    const pending = await call(agent, "http_request", args);
    expect(pending.structuredContent).toMatchObject({
      status: "pending_approval",
      approverGroup: "approvers",
    });
    const requestId = pending.structuredContent!.requestId as string;
    expect(
      await api("POST", `/api/requests/${requestId}/approve`, await gw.token("ap-1", ["approvers"])),
    ).toBe(200);
    const ran = await call(agent, "http_request", args);
    expect(ran.structuredContent).toMatchObject({ status: 200 });
    expect(upstream.received.filter((r) => r.url === args.path)).toHaveLength(1);
    expect((await call(agent, "http_request", args)).structuredContent).toMatchObject({
      status: "pending_approval",
    });
  }, 60_000);
});

describe("URL-mode elicitation", () => {
  it("sends the console URL of the request to a client that declared URL elicitation, then runs once approved", async () => {
    const client = new Client(
      { name: "latch-test-elicit", version: "1.0.0" },
      { capabilities: { elicitation: { url: {} } } },
    );
    const approver = await gw.token("ap-2", ["approvers"]);
    const completed: string[] = [];
    client.setNotificationHandler(ElicitationCompleteNotificationSchema, (notification) => {
      completed.push(notification.params.elicitationId);
    });
    const asked: { url: string; elicitationId: string }[] = [];
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      const params = request.params as { mode?: string; url: string; elicitationId: string };
      expect(params.mode).toBe("url");
      asked.push(params);
      // The user opens the URL and an approver decides there.
      expect(await api("POST", `/api/requests/${params.elicitationId}/approve`, approver)).toBe(200);
      return { action: "accept" };
    });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(mcp.url), {
        requestInit: { headers: { authorization: `Bearer ${agentToken}` } },
      }),
    );
    const path = `/echo/orders/elicited-${Date.now()}`;
    const answer = (await client.callTool(
      { name: "http_request", arguments: { connection: "api", method: "DELETE", path } },
      undefined,
      { timeout: 60_000 },
    )) as { structuredContent?: Record<string, unknown>; isError?: boolean };
    expect(asked).toHaveLength(1);
    expect(asked[0]!.url).toBe(`https://latch.example/#/requests/${asked[0]!.elicitationId}`);
    expect(answer.isError).toBeFalsy();
    expect(answer.structuredContent).toMatchObject({ status: 200 });
    expect(upstream.received.filter((r) => r.url === path)).toHaveLength(1);
    // The client hears that the out-of-band step is over.
    await expect.poll(() => completed).toEqual([asked[0]!.elicitationId]);
    await client.close();
  }, 90_000);

  it("falls back to the pending result when the user declines", async () => {
    const client = new Client(
      { name: "latch-test-decline", version: "1.0.0" },
      { capabilities: { elicitation: { url: {} } } },
    );
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "decline" }));
    await client.connect(
      new StreamableHTTPClientTransport(new URL(mcp.url), {
        requestInit: { headers: { authorization: `Bearer ${agentToken}` } },
      }),
    );
    const answer = (await client.callTool({
      name: "http_request",
      arguments: { connection: "api", method: "DELETE", path: `/echo/orders/declined-${Date.now()}` },
    })) as { structuredContent?: Record<string, unknown> };
    expect(answer.structuredContent).toMatchObject({ status: "pending_approval" });
    await client.close();
  }, 60_000);
});

describe("the bearer a session verified", () => {
  it("any other token on the session is verified whole: a forged signature is refused with 401", async () => {
    const transport = new StreamableHTTPClientTransport(new URL(mcp.url), {
      requestInit: { headers: { authorization: `Bearer ${agentToken}` } },
    });
    const client = new Client({ name: "latch-test-forged", version: "1.0.0" });
    await client.connect(transport);
    const sessionId = transport.sessionId!;
    const post = (token: string) =>
      fetch(mcp.url, {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "mcp-session-id": sessionId,
          "mcp-protocol-version": "2025-11-25",
          accept: "application/json, text/event-stream",
          "content-type": "application/json",
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }),
      });
    const [head, payload, signature] = agentToken.split(".") as [string, string, string];
    const flipped = `${signature.slice(0, -2)}${signature.endsWith("AA") ? "BB" : "AA"}`;
    const forged = await post(`${head}.${payload}.${flipped}`);
    expect(forged.status).toBe(401);
    await forged.arrayBuffer();
    const genuine = await post(agentToken);
    expect(genuine.status).toBe(200);
    await genuine.arrayBuffer();
    await client.close();
  });

  it("is not verified again, but its expiry still ends the session's use (fail closed)", async () => {
    const token = await gw.token("agent-short", ["agents"], 4);
    const expiresAt = Date.now() + 4000;
    const agent = await mcp.connect(token);
    expect((await call(agent, "list_connections", {})).isError).toBeFalsy();
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 1500));
    await expect(call(agent, "list_connections", {})).rejects.toThrow();
  }, 60_000);
});
