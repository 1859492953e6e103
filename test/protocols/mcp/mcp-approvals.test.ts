import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, type McpFixture, startMcpFixture } from "./mcp-fixture.js";

// Approval inside MCP, through the same approvals service as SQL, decided through the admin API as
// `latch requests approve|deny` does; and the session controls (kill, block) on an MCP session.
let f: McpFixture;
let agentToken: string;
let alice: string;
let admin: string;

beforeAll(async () => {
  f = await startMcpFixture();
  agentToken = await f.oidc.mintToken("agent-9", ["agents"]);
  alice = await f.fx.gw.token("alice", ["dba"]);
  admin = await f.fx.gw.token("root-admin", ["latch-admins"]);
}, 60_000);
afterAll(async () => f?.stop());

const itemName = async (id: number): Promise<string> =>
  (await f.fx.direct("SELECT name FROM items WHERE id = $1", [id])).rows[0].name;
const bang = (id: string) => ({
  connection: "app",
  sql: "UPDATE items SET name = name || '!' WHERE id = $1",
  params: [id],
});

describe("approval inside MCP", () => {
  it("a call needing approval returns pending; after approval the same call runs exactly once", async () => {
    const agent = await f.mcp.connect(agentToken);
    const pending = await call(agent, "sql_query", bang("4"));
    expect(pending.isError).toBeFalsy();
    expect(pending.structuredContent).toMatchObject({ status: "pending_approval", approverGroup: "dba" });
    const requestId = pending.structuredContent!.requestId as string;
    expect(pending.structuredContent!.consoleUrl).toBe(`https://latch.example/#/requests/${requestId}`);
    expect((await call(agent, "access_status", { request_id: requestId })).structuredContent).toMatchObject({
      state: "pending",
      group: "dba",
    });
    // Another caller learns nothing about this request.
    const other = await f.mcp.connect(await f.oidc.mintToken("agent-10", ["agents"]));
    expect((await call(other, "access_status", { request_id: requestId })).isError).toBe(true);

    expect((await f.api("POST", `/api/requests/${requestId}/approve`, alice, {})).status).toBe(200);
    expect((await call(agent, "access_status", { request_id: requestId })).structuredContent).toMatchObject({
      state: "approved",
    });
    expect(await itemName(4)).toBe("item 4");
    // A different argument is another statement: the approval does not release it.
    const different = await call(agent, "sql_query", bang("5"));
    expect(different.structuredContent).toMatchObject({ status: "pending_approval" });
    expect(different.structuredContent!.requestId).not.toBe(requestId);
    expect(await itemName(5)).toBe("item 5");

    const ran = await call(agent, "sql_query", bang("4"));
    expect(ran.isError).toBeFalsy();
    expect(ran.structuredContent).toMatchObject({ command: "UPDATE", rowCount: 1 });
    expect(await itemName(4)).toBe("item 4!");
    // The approval is used up: the same call again asks again and does not run.
    const again = await call(agent, "sql_query", bang("4"));
    expect(again.structuredContent).toMatchObject({ status: "pending_approval" });
    expect(await itemName(4)).toBe("item 4!");
  });

  it("with a progress token the call waits, says so in a progress notification, and runs once approved", async () => {
    const agent = await f.mcp.connect(agentToken);
    let heard: (message: string) => void = () => undefined;
    const notice = new Promise<string>((resolve) => {
      heard = resolve;
    });
    const result = agent.callTool({ name: "sql_query", arguments: bang("6") }, undefined, {
      onprogress: (progress) => heard(progress.message ?? ""),
      timeout: 60_000,
    });
    const message = await notice;
    expect(message).toMatch(/held for approval by group "dba" \(request (\S+)\)/);
    const requestId = /request (\S+)\)/.exec(message)![1]!;
    expect((await f.api("POST", `/api/requests/${requestId}/approve`, alice, {})).status).toBe(200);
    const answer = (await result) as { isError?: boolean; structuredContent?: Record<string, unknown> };
    expect(answer.isError).toBeFalsy();
    expect(answer.structuredContent).toMatchObject({ command: "UPDATE", rowCount: 1 });
    expect(await itemName(6)).toBe("item 6!");
  });

  it("a denied call does not run, and the agent hears it was denied", async () => {
    const agent = await f.mcp.connect(agentToken);
    let heard: (message: string) => void = () => undefined;
    const notice = new Promise<string>((resolve) => {
      heard = resolve;
    });
    const result = agent.callTool({ name: "sql_query", arguments: bang("7") }, undefined, {
      onprogress: (progress) => heard(progress.message ?? ""),
      timeout: 60_000,
    });
    const requestId = /request (\S+)\)/.exec(await notice)![1]!;
    expect(
      (await f.api("POST", `/api/requests/${requestId}/deny`, alice, { reason: "not today" })).status,
    ).toBe(200);
    const answer = (await result) as { isError?: boolean; structuredContent?: Record<string, unknown> };
    expect(answer).toMatchObject({ isError: true, structuredContent: { error: "approval_denied" } });
    expect(await itemName(7)).toBe("item 7");
  });

  it("request_access files an up-front request the agent can follow with access_status", async () => {
    const agent = await f.mcp.connect(agentToken);
    const asked = await call(agent, "request_access", {
      connection: "app",
      actions: ["sql:update"],
      resources: ["items"],
      reason: "ticket 42",
      for: "10m",
    });
    expect(asked.structuredContent).toMatchObject({ state: "pending", group: "dba", reason: "ticket 42" });
    const refused = await call(agent, "request_access", {
      connection: "app",
      actions: ["sql:delete"],
      resources: ["secrets"],
      reason: "cleanup",
    });
    expect(refused).toMatchObject({ isError: true, structuredContent: { error: "request_refused" } });
  });
});

describe("session controls", () => {
  const sessionOf = async (subject: string): Promise<string> => {
    const live = await f.api("GET", "/api/sessions/live", admin);
    const mine = (live.body.sessions as { id: string; subject: string; protocol: string }[]).filter(
      (session) => session.subject === subject && session.protocol === "mcp",
    );
    return mine.at(-1)!.id;
  };
  const select = (client: Client) => call(client, "sql_query", { connection: "app", sql: "SELECT 1" });

  it("a killed MCP session is gone: the next call fails and a new session works", async () => {
    const token = await f.oidc.mintToken("agent-kill", ["agents"]);
    const agent = await f.mcp.connect(token);
    expect((await select(agent)).isError).toBeFalsy();
    const id = await sessionOf("agent-kill");
    expect((await f.api("DELETE", `/api/sessions/${id}`, admin)).status).toBe(200);
    await expect(select(agent)).rejects.toThrow(/session not found/i);
    expect((await select(await f.mcp.connect(token))).isError).toBeFalsy();
  });

  it("blocking the principal ends its MCP session and refuses new ones with 403", async () => {
    const token = await f.oidc.mintToken("agent-block", ["agents"]);
    const agent = await f.mcp.connect(token);
    expect((await select(agent)).isError).toBeFalsy();
    expect((await f.api("POST", "/api/principals/agent-block/block", admin, { reason: "test" })).status).toBe(
      200,
    );
    await expect(select(agent)).rejects.toThrow();
    const response = await fetch(f.mcp.url, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: "{}",
    });
    expect(response.status).toBe(403);
  });
});
