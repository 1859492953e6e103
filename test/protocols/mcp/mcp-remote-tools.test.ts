import { existsSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  ElicitationCompleteNotificationSchema,
  ElicitRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditEvent } from "../../../src/store/store.js";
import { type EchoUpstream, startEchoUpstream } from "../../support/echo-upstream.js";
import { type McpEndpoint, serveMcpEndpoint } from "../../support/mcp-endpoint.js";
import { startSshd, type TestSshd } from "../../support/sshd.js";
import { startTestGateway, type TestGateway } from "../../support/test-gateway.js";
import { call } from "./mcp-fixture.js";

// ssh_exec against a real OpenSSH sshd and http_request against a real HTTP upstream, through the official SDK
// client on Latch's MCP endpoint: the SSH and HTTP protocols' own paths (policy, injection, masking, recording).
const SECRET_ENV = "LATCH_TEST_MCP_HTTP_SECRET";
const SECRET = "mcp-upstream-secret-0123456789";
const POLICY = `
@id("agents-exec")
permit(principal in Group::"agents", action == Action::"ssh:exec", resource in Connection::"web-1")
when { context.command == "uname -s" || context.command like "echo *" };
@id("agents-touch-needs-sre")
@approval("sre")
permit(principal in Group::"agents", action == Action::"ssh:exec", resource in Connection::"web-1")
when { context.command like "touch /tmp/latch-mcp-*" };
@id("agents-http-read")
permit(principal in Group::"agents", action in Action::"http:read", resource in Connection::"api");
@id("agents-http-json-post")
permit(principal in Group::"agents", action == Action::"http:POST", resource in Connection::"api")
when { context.body.kind == "json" };
@id("no-admin-paths")
forbid(principal, action, resource in Connection::"api") when { context.path like "/echo/admin*" };
@id("agents-delete-needs-approvers")
@approval("approvers")
permit(principal in Group::"agents", action == Action::"http:DELETE", resource in Connection::"api");
@id("readers-read")
permit(principal in Group::"readers", action in Action::"http:read", resource in Connection::"api");
`;

let sshd: TestSshd;
let upstream: EchoUpstream;
let gw: TestGateway;
let mcp: McpEndpoint;
let agentToken: string;

beforeAll(async () => {
  process.env[SECRET_ENV] = SECRET;
  sshd = await startSshd();
  upstream = await startEchoUpstream();
  gw = await startTestGateway(undefined, {
    policy: POLICY,
    overrides: {
      listen: { admin: "127.0.0.1:0", http: "127.0.0.1:0" },
      approvals: { timeout: "60s", console_url: "https://latch.example" },
      masking: { pii: { detectors: ["email", "credit_card"] } },
      mcp: { max_output_bytes: 4096 },
      connections: {
        "web-1": {
          type: "ssh",
          upstream: `ssh://latch-ssh-test@127.0.0.1:${sshd.port}`,
          private_key: { file: sshd.userKeyFile },
          host_key: sshd.hostKeyLine,
          masking: ["pii"],
        },
        api: {
          type: "http",
          upstream: upstream.url,
          inject: { header: { name: "X-Api-Key", value: { env: SECRET_ENV }, format: "Key {}" } },
          masking: ["pii"],
        },
      },
    },
  });
  mcp = await serveMcpEndpoint(gw.gateway);
  agentToken = await gw.token("agent-7", ["agents"]);
}, 120_000);
afterAll(async () => {
  await mcp?.close();
  await gw?.stop();
  await upstream?.close();
  await sshd?.stop();
});

async function events(kind: string): Promise<AuditEvent[]> {
  await gw.gateway.flushAudit();
  return gw.gateway.audit.events({ kind: kind as never, limit: 1000 });
}

async function api(method: string, path: string, token: string, body?: unknown): Promise<number> {
  const response = await fetch(`${gw.adminUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body ?? {}),
  });
  await response.arrayBuffer();
  return response.status;
}

describe("tools/list over SSH and HTTP connections", () => {
  it("lists ssh_exec and http_request with hints from the caller's policy", async () => {
    const agent = await mcp.connect(agentToken);
    const tools = new Map((await agent.listTools()).tools.map((tool) => [tool.name, tool]));
    expect(tools.get("ssh_exec")?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    // Agents may POST (when the body is JSON) and DELETE (with approval): neither read-only nor harmless.
    expect(tools.get("http_request")?.annotations).toMatchObject({
      readOnlyHint: false,
      destructiveHint: true,
    });
    expect(tools.has("sql_query")).toBe(false);

    const reader = await mcp.connect(await gw.token("reader-1", ["readers"]));
    const readerTools = new Map((await reader.listTools()).tools.map((tool) => [tool.name, tool]));
    expect(readerTools.has("ssh_exec")).toBe(false);
    // Nothing but reads can ever be permitted to readers on api: proven read-only.
    expect(readerTools.get("http_request")?.annotations).toMatchObject({
      readOnlyHint: true,
      destructiveHint: false,
      idempotentHint: true,
    });
    expect((await call(reader, "ssh_exec", { connection: "web-1", command: "uname -s" })).isError).toBe(true);
  });

  it("list_connections and describe_connection show the SSH and HTTP connections the caller could use", async () => {
    const agent = await mcp.connect(agentToken);
    expect((await call(agent, "list_connections", {})).structuredContent).toEqual({
      connections: [
        { name: "web-1", type: "ssh", labels: {} },
        { name: "api", type: "http", labels: {} },
      ],
    });
    const reader = await mcp.connect(await gw.token("reader-2", ["readers"]));
    expect((await call(reader, "list_connections", {})).structuredContent).toEqual({
      connections: [{ name: "api", type: "http", labels: {} }],
    });
    expect(
      (await call(reader, "describe_connection", { connection: "web-1" })).structuredContent,
    ).toMatchObject({
      error: "connection_unknown",
    });
    expect(
      (await call(reader, "describe_connection", { connection: "api" })).structuredContent,
    ).toMatchObject({
      type: "http",
      tool: "http_request",
      actions: { "http:GET": "allow", "http:DELETE": "deny" },
    });
  });
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

describe("ssh_exec", () => {
  it("runs an allowed command on the real sshd with the injected key and records it like an SSH exec", async () => {
    const agent = await mcp.connect(agentToken);
    const answer = await call(agent, "ssh_exec", { connection: "web-1", command: "uname -s" });
    expect(answer.isError).toBeFalsy();
    expect(answer.structuredContent).toMatchObject({
      exitCode: 0,
      stdout: "Linux\n",
      stderr: "",
      truncated: false,
      classification: { actions: ["ssh:exec"], readOnly: false },
    });
    const operation = (await events("operation")).find(
      (event) => (event.data as { mode?: string }).mode === "ssh_exec",
    );
    expect(operation).toBeDefined();
    const statement = (operation!.data as { statements: Record<string, unknown>[] }).statements[0]!;
    expect(statement).toMatchObject({ text: "uname -s", tool: "ssh_exec" });
    expect(statement.argumentsHash).toMatch(/^[0-9a-f]{64}$/);
    const recording = (await events("session_recording")).filter((e) => e.sessionId === operation!.sessionId);
    expect(JSON.stringify(recording.map((e) => e.data))).toContain("uname -s");
    expect(JSON.stringify(recording.map((e) => e.data))).toContain("Linux");
  });

  it("returns the exit code and stderr, masks detected values in the answer and the recording", async () => {
    const agent = await mcp.connect(agentToken);
    const answer = await call(agent, "ssh_exec", {
      connection: "web-1",
      command: "echo contact ada@example.com; echo oops >&2; exit 3",
    });
    expect(answer.structuredContent).toMatchObject({ exitCode: 3, stderr: "oops\n" });
    const stdout = answer.structuredContent!.stdout as string;
    expect(stdout).toContain("contact");
    expect(stdout).not.toContain("ada@example.com");
    // Output is masked before it is stored; the command line is recorded as typed, as on the SSH listener.
    const recorded = JSON.stringify(
      (await events("session_recording")).map((e) => (e.data as { events: unknown[] }).events),
    );
    expect(recorded).toContain("contact ***");
    expect(recorded).not.toContain("ada@example.com");
  });

  it("caps output: past max_output_bytes the command is stopped and the result says truncated", async () => {
    const agent = await mcp.connect(agentToken);
    const answer = await call(agent, "ssh_exec", {
      connection: "web-1",
      command: "echo start; yes latch-output-line",
    });
    expect(answer.structuredContent).toMatchObject({ truncated: true });
    expect((answer.structuredContent!.stdout as string).length).toBeLessThanOrEqual(4096);
  }, 60_000);

  it("denies a command policy does not permit, before the target sees it", async () => {
    const agent = await mcp.connect(agentToken);
    const marker = `/tmp/latch-mcp-denied-${process.pid}`;
    const answer = await call(agent, "ssh_exec", {
      connection: "web-1",
      command: `cat /etc/hostname > ${marker}`,
    });
    expect(answer.isError).toBe(true);
    expect(answer.structuredContent).toMatchObject({ error: "statement_denied" });
    expect(existsSync(marker)).toBe(false);
  });

  it("holds a command for approval; after approval the same call runs exactly once", async () => {
    const agent = await mcp.connect(agentToken);
    const marker = `/tmp/latch-mcp-${process.pid}-${Date.now()}`;
    const args = { connection: "web-1", command: `touch ${marker}` };
    const pending = await call(agent, "ssh_exec", args);
    expect(pending.structuredContent).toMatchObject({ status: "pending_approval", approverGroup: "sre" });
    expect(existsSync(marker)).toBe(false);
    const requestId = pending.structuredContent!.requestId as string;
    expect(await api("POST", `/api/requests/${requestId}/approve`, await gw.token("sre-1", ["sre"]))).toBe(
      200,
    );
    const ran = await call(agent, "ssh_exec", args);
    expect(ran.structuredContent).toMatchObject({ exitCode: 0 });
    expect(existsSync(marker)).toBe(true);
    // Used up: the same call asks again.
    expect((await call(agent, "ssh_exec", args)).structuredContent).toMatchObject({
      status: "pending_approval",
    });
  }, 60_000);
});

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
