import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { McpEndpoint } from "../../support/mcp-endpoint.js";
import type { TestGateway } from "../../support/test-gateway.js";
import { call } from "./mcp-fixture.js";
import { type RemoteToolsFixture, startRemoteToolsFixture } from "./remote-tools-fixture.js";

let f: RemoteToolsFixture;
let gw: TestGateway;
let mcp: McpEndpoint;
let agentToken: string;
beforeAll(async () => {
  f = await startRemoteToolsFixture();
  ({ gw, mcp, agentToken } = f);
}, 120_000);
afterAll(async () => f?.stop());
const events = (kind: string) => f.events(kind);
const api = (method: string, path: string, token: string, body?: unknown) => f.api(method, path, token, body);

// ssh_exec against a real OpenSSH sshd through the official SDK client on Latch's MCP endpoint: the SSH
// protocol's own exec path (policy, injected key, masking, recording), and the tools listing over SSH and
// HTTP connections.
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
        { name: "down", type: "ssh", labels: {} },
        { name: "api-down", type: "http", labels: {} },
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

describe("an upstream that is down", () => {
  it("ends ssh_exec and http_request with upstream_unavailable, recorded as the tool call's result", async () => {
    const agent = await mcp.connect(agentToken);
    const ssh = await call(agent, "ssh_exec", { connection: "down", command: "echo hi" });
    expect(ssh.isError).toBe(true);
    expect(ssh.structuredContent).toMatchObject({ error: "upstream_unavailable" });
    const http = await call(agent, "http_request", { connection: "api-down", method: "GET", path: "/x" });
    expect(http.isError).toBe(true);
    expect(http.structuredContent).toMatchObject({ error: "upstream_unavailable" });
    const results = (await events("operation_result")).map((event) => JSON.stringify(event.data));
    expect(results.filter((text) => text.includes("upstream_unavailable")).length).toBeGreaterThanOrEqual(2);
  }, 60_000);
});
