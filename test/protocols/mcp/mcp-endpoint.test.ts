import { existsSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logicalEvents } from "../../../src/store/logical-events.js";
import type { GatewayFixture } from "../../e2e/pg-fixture.js";
import { LATCH_CLI } from "../../support/latch-serve.js";
import type { McpEndpoint } from "../../support/mcp-endpoint.js";
import type { TestOidcProvider } from "../../support/oidc-provider.js";
import { call, type McpFixture, startMcpFixture } from "./mcp-fixture.js";

// The MCP endpoint end to end: the official SDK client over a real socket, tokens from a real OIDC provider,
// a real PostgreSQL behind the connection.
let f: McpFixture;
let fx: GatewayFixture;
let oidc: TestOidcProvider;
let mcp: McpEndpoint;
let agentToken: string;

beforeAll(async () => {
  f = await startMcpFixture();
  ({ fx, oidc, mcp } = f);
  agentToken = await oidc.mintToken("agent-7", ["agents"]);
}, 60_000);
afterAll(async () => f?.stop());

describe("OAuth resource server", () => {
  it("publishes RFC 9728 metadata naming the configured issuers", async () => {
    const response = await fetch(`${mcp.origin}/.well-known/oauth-protected-resource/mcp`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { resource: string; authorization_servers: string[] };
    expect(body.authorization_servers).toEqual([oidc.issuer, "latch-dev"]);
    expect(body.resource).toMatch(/\/mcp$/);
  });

  it("answers a request without a token with 401 and a challenge pointing at the metadata", async () => {
    const response = await fetch(mcp.url, {
      method: "POST",
      body: "{}",
      headers: { "content-type": "application/json" },
    });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toMatch(
      /^Bearer resource_metadata="https:\/\/127\.0\.0\.1:0\/\.well-known\/oauth-protected-resource\/mcp"$/,
    );
  });

  it("refuses a token minted for another audience with 401 invalid_token, and the SDK client cannot connect", async () => {
    const foreign = await oidc.mintToken("agent-7", ["agents"], { audience: "someone-else" });
    const response = await fetch(mcp.url, {
      method: "POST",
      headers: { authorization: `Bearer ${foreign}`, "content-type": "application/json" },
      body: "{}",
    });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toMatch(/error="invalid_token"/);
    await expect(mcp.connect(foreign)).rejects.toThrow();
  });
});

describe("built-in tools", () => {
  it("lists tools per caller: only what policy could allow, with Latch's own hints", async () => {
    const agent = await mcp.connect(agentToken);
    const reader = await mcp.connect(await oidc.mintToken("reader-1", ["readers"]));
    const nobody = await mcp.connect(await oidc.mintToken("nobody-1", ["interns"]));
    const tools = async (client: Client) => (await client.listTools()).tools;
    const agentSql = (await tools(agent)).find((tool) => tool.name === "sql_query");
    const readerSql = (await tools(reader)).find((tool) => tool.name === "sql_query");
    // Agents may UPDATE items (with approval, a permit on that one table): not read-only, destructive.
    expect(agentSql?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    // No permit could ever give readers more than sql:read on app: proven read-only.
    expect(readerSql?.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    const listed = (await tools(reader)).find((tool) => tool.name === "list_connections");
    expect(listed?.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    expect((await tools(nobody)).map((tool) => tool.name)).not.toContain("sql_query");
    expect((await call(nobody, "list_connections", {})).structuredContent).toEqual({ connections: [] });
    expect((await call(reader, "list_connections", {})).structuredContent).toEqual({
      connections: [{ name: "app", type: "postgres", labels: { env: "test" } }],
    });
    const described = await call(reader, "describe_connection", { connection: "app" });
    expect(described.structuredContent).toMatchObject({
      maskedColumns: ["public.people.ssn"],
      actions: { "sql:select": "allow", "sql:delete": "deny" },
    });
    const tables = described.structuredContent!.tables as { table: string; columns: unknown[] }[];
    expect(tables.map((t) => t.table).sort()).toEqual(["public.items", "public.people"]);
    expect(tables.find((t) => t.table === "public.people")?.columns).toContainEqual({
      name: "ssn",
      masked: true,
    });
    const refused = await call(nobody, "sql_query", { connection: "app", sql: "SELECT 1" });
    expect(refused.isError).toBe(true);
  });

  it("sql_query returns rows, capped and masked by column provenance and content detectors", async () => {
    const agent = await mcp.connect(agentToken);
    const people = await call(agent, "sql_query", {
      connection: "app",
      sql: "SELECT id, name, ssn, contact FROM people WHERE id = $1",
      params: ["1"],
    });
    expect(people.isError).toBeFalsy();
    expect(people.structuredContent).toMatchObject({
      columns: ["id", "name", "ssn", "contact"],
      rows: [["1", "Ada", "***-**-6789", "***@******e.com"]],
      maskedColumns: ["ssn"],
      truncated: false,
    });
    const many = await call(agent, "sql_query", {
      connection: "app",
      sql: "SELECT id FROM items ORDER BY id",
    });
    expect(many.structuredContent).toMatchObject({
      rows: [["1"], ["2"], ["3"], ["4"], ["5"]],
      truncated: true,
    });
    const derived = await call(agent, "sql_query", {
      connection: "app",
      sql: "SELECT upper(ssn) FROM people",
    });
    expect(derived.isError).toBe(true);
    expect(JSON.stringify(derived.content)).not.toContain("123-45");
  });

  it("denies what psql is denied: a forbidden table and the CTE-hidden write", async () => {
    const agent = await mcp.connect(agentToken);
    const secret = await call(agent, "sql_query", { connection: "app", sql: "SELECT * FROM secrets" });
    expect(secret).toMatchObject({ isError: true, structuredContent: { error: "statement_denied" } });
    const hidden = await call(agent, "sql_query", {
      connection: "app",
      sql: "WITH gone AS (DELETE FROM people RETURNING id) SELECT count(*) FROM gone",
    });
    expect(hidden).toMatchObject({ isError: true, structuredContent: { error: "statement_denied" } });
    expect((await fx.direct("SELECT count(*)::int AS n FROM people")).rows[0].n).toBe(2);
  });

  it("records an mcp session with every tool call: tool, arguments hash, verdict", async () => {
    const agent = await mcp.connect(agentToken);
    await call(agent, "sql_query", { connection: "app", sql: "SELECT name FROM items WHERE id = 3" });
    await fx.gw.gateway.flushAudit();
    const starts = await fx.gw.gateway.audit.events({
      kind: "session_start",
      subject: "agent-7",
      limit: 1000,
    });
    const start = starts.at(-1)!;
    expect(start.data).toMatchObject({ protocol: "mcp", connection: "mcp", issuer: oidc.issuer });
    const events = await logicalEvents(fx.gw.gateway.audit, { sessionId: start.sessionId!, limit: 100 });
    const operation = events.find((event) => event.kind === "operation");
    expect(operation?.data).toMatchObject({
      mode: "sql_query",
      statements: [{ text: "SELECT name FROM items WHERE id = 3", verb: "sql:select", tool: "sql_query" }],
      verdict: { decision: "allow" },
    });
    const recorded = operation?.data as { statements: { argumentsHash: string }[] } | undefined;
    expect(recorded?.statements[0]?.argumentsHash).toMatch(/^[0-9a-f]{64}$/);
    expect(events.some((event) => event.kind === "operation_result")).toBe(true);
  });
});

describe("latch mcp (stdio bridge)", () => {
  it("lets an SDK stdio client reach the endpoint with LATCH_TOKEN, and refuses to start without a token", async () => {
    if (!existsSync(LATCH_CLI)) throw new Error(`${LATCH_CLI} is missing: run "npm run build" first`);
    const client = new Client({ name: "stdio-agent", version: "1.0.0" });
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [LATCH_CLI, "mcp", "--server", mcp.url],
      env: { ...(process.env as Record<string, string>), LATCH_TOKEN: agentToken },
      stderr: "pipe",
    });
    await client.connect(transport);
    try {
      const answer = await call(client, "sql_query", {
        connection: "app",
        sql: "SELECT name FROM items WHERE id = 2",
      });
      expect(answer.structuredContent).toMatchObject({ rows: [["item 2"]] });
    } finally {
      await client.close();
    }
    const { LATCH_TOKEN: _, ...withoutToken } = process.env as Record<string, string>;
    const bare = new StdioClientTransport({
      command: process.execPath,
      args: [LATCH_CLI, "mcp", "--server", mcp.url],
      env: withoutToken,
      stderr: "pipe",
    });
    let stderr = "";
    bare.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<void>((resolve) => {
      bare.onclose = () => resolve();
    });
    await bare.start();
    await exited;
    expect(stderr).toMatch(/no token: set LATCH_TOKEN/);
  });
});
