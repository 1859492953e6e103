import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApprovalRequest } from "../../src/approvals/approval-types.js";
import { type GatewayFixture, startGatewayFixture } from "./pg-fixture.js";

/**
 * Preview, then commit (docs/approvals.md), end to end: node-postgres through the gateway, a real PostgreSQL
 * behind it, approvers deciding through the admin API. The preview's counts, rollback, masked sample, refusals
 * and the row ceiling are checked against the database itself.
 */

const POLICY = `
@id("agents-read")
permit(principal in Group::"agents", action in Action::"sql:read", resource in Connection::"app");
@id("agents-session")
permit(principal in Group::"agents", action in [Action::"sql:session", Action::"sql:set"], resource in Connection::"app");
@id("small-item-changes")
permit(principal in Group::"agents", action in [Action::"sql:update", Action::"sql:delete"], resource == Table::"app/public.items")
when { context has preview && context.preview.rows <= 3 };
@id("item-writes-need-dba")
@approval("dba")
@preview("true")
permit(principal in Group::"agents", action in Action::"sql:write", resource == Table::"app/public.items");
@id("people-writes-need-dba")
@approval("dba")
@preview("true")
permit(principal in Group::"agents", action in Action::"sql:write", resource in Connection::"app")
unless { resource == Table::"app/public.items" };
@id("notify-needs-dba")
@approval("dba")
@preview("true")
permit(principal in Group::"agents", action == Action::"sql:notify", resource in Connection::"app");
`;

let fx: GatewayFixture;
let agent: string;
let alice: string;

beforeAll(async () => {
  fx = await startGatewayFixture({
    policy: POLICY,
    masking: ["pii"],
    overrides: {
      approvals: { timeout: "20s", mode: "hold", preview: { sample_rows: 3 } },
      masking: { pii: { columns: ["public.people.ssn"], detectors: ["email"] } },
    },
  });
  await fx.direct(`
    SET ROLE ${fx.cluster.appUser};
    CREATE TABLE public.people (id int PRIMARY KEY, name text NOT NULL, ssn text, contact text);
    INSERT INTO public.people VALUES (1, 'Ada', '123-45-6789', 'ada@example.com'), (2, 'Bob', '987-65-4321', 'bob@example.com');
    CREATE TABLE public.events (id serial PRIMARY KEY, what text NOT NULL);
    RESET ROLE;
  `);
  agent = await fx.gw.token("ci-bot", ["agents"]);
  alice = await fx.gw.token("alice", ["dba"]);
}, 120_000);
afterAll(async () => fx?.stop());

async function api(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: { request: ApprovalRequest } }> {
  const response = await fetch(`${fx.gw.adminUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${alice}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as { request: ApprovalRequest } };
}

const getRequest = async (id: string): Promise<ApprovalRequest> =>
  (await api("GET", `/api/requests/${id}`)).body.request;

/** Resolves with the request id of the first hold notice the client receives. */
function held(client: pg.Client): Promise<string> {
  return new Promise((resolve) => {
    client.on("notice", (notice: { message?: string }) => {
      const match = /request (req_[A-Za-z0-9_-]+)/.exec(notice.message ?? "");
      if (match) resolve(match[1]!);
    });
  });
}

async function failure(promise: Promise<unknown>): Promise<pg.DatabaseError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught as pg.DatabaseError,
  );
  expect(error, "expected the statement to fail").toBeDefined();
  return error!;
}

const names = async (where: string) =>
  (await fx.direct(`SELECT name FROM items WHERE ${where} ORDER BY id`)).rows.map(
    (row) => row.name as string,
  );

describe("preview, then commit", () => {
  it("previews a large update (counts, plan, sample), leaves the table unchanged, and runs it once approved", async () => {
    const client = await fx.gw.connect(agent);
    const requestId = held(client);
    const result = client.query("UPDATE items SET name = name || ' (bulk)' WHERE id <= 10");
    const id = await requestId;
    const request = await getRequest(id);
    const preview = request.preview!;
    expect(preview.status).toBe("ran");
    if (preview.status !== "ran") return;
    expect(preview.rows).toBe(10);
    expect(preview.tagRows).toBe(10);
    expect(preview.tables).toEqual([{ table: "public.items", inserted: 0, updated: 10, deleted: 0 }]);
    expect(preview.plan).toMatch(/Update on items/);
    expect(preview.sample?.columns).toEqual(["id", "name"]);
    expect(preview.sample?.rows).toHaveLength(3);
    expect(preview.sample?.rows[0]?.[1]).toMatch(/\(bulk\)$/);
    expect(preview.sample?.truncated).toBe(true);
    // The requester sees the request, not the preview: its rows and counts are for approvers.
    const own = await fetch(`${fx.gw.adminUrl}/api/requests/${id}`, {
      headers: { authorization: `Bearer ${agent}` },
    });
    const seen = ((await own.json()) as { request: ApprovalRequest }).request;
    expect(seen.id).toBe(id);
    expect(seen.preview).toBeUndefined();
    // Rolled back: the database never saw the change.
    expect((await names("name LIKE '%(bulk)'")).length).toBe(0);
    expect((await api("POST", `/api/requests/${id}/approve`, { reason: "looks right" })).status).toBe(200);
    expect((await result).rowCount).toBe(10);
    expect((await names("name LIKE '%(bulk)'")).length).toBe(10);
    await client.end();
  }, 60_000);

  it("lets a small update run at once: the row threshold policy sees context.preview.rows", async () => {
    const client = await fx.gw.connect(agent);
    let noticed = false;
    client.on("notice", () => {
      noticed = true;
    });
    const result = await client.query("UPDATE items SET name = 'small change' WHERE id IN (11, 12)");
    expect(result.rowCount).toBe(2);
    expect(noticed).toBe(false);
    expect(await names("id IN (11, 12)")).toEqual(["small change", "small change"]);
    // The record says what the decision rested on.
    await fx.gw.gateway.flushAudit();
    const recorded = (await fx.gw.gateway.audit.events({ kind: "operation", limit: 1000 })).find((event) =>
      JSON.stringify(event.data).includes("small change"),
    );
    expect(recorded?.data.preview).toMatchObject({ status: "ran", rows: 2, commandTag: "UPDATE 2" });
    await client.end();
  }, 60_000);

  it("masks the sample with the connection's masking rules", async () => {
    const client = await fx.gw.connect(agent);
    const requestId = held(client);
    const result = client.query("UPDATE people SET name = name || '!' WHERE id = 1");
    const id = await requestId;
    const preview = (await getRequest(id)).preview!;
    expect(preview.status).toBe("ran");
    if (preview.status !== "ran") return;
    expect(preview.sample?.columns).toEqual(["id", "name", "ssn", "contact"]);
    const row = preview.sample!.rows[0]!;
    expect(row[1]).toBe("Ada!");
    expect(row[2]).not.toContain("123-45-6789");
    expect(row[3]).not.toContain("ada@example.com");
    expect(JSON.stringify(preview)).not.toContain("123-45-6789");
    const refused = failure(result);
    await api("POST", `/api/requests/${id}/deny`, { reason: "not today" });
    expect((await refused).code).toBe("42501");
    expect((await fx.direct("SELECT name FROM people WHERE id = 1")).rows[0].name).toBe("Ada");
    await client.end();
  }, 60_000);

  it("refuses to preview an INSERT that draws from a sequence, and the approval still works", async () => {
    const client = await fx.gw.connect(agent);
    const requestId = held(client);
    const result = client.query("INSERT INTO events (what) VALUES ('deploy')");
    const id = await requestId;
    const preview = (await getRequest(id)).preview!;
    expect(preview.status).toBe("refused");
    if (preview.status === "ran") return;
    expect(preview.reason).toMatch(/sequence behind public\.events\.id/);
    // Nothing ran early: the sequence was not touched.
    expect((await fx.direct("SELECT last_value, is_called FROM events_id_seq")).rows[0].is_called).toBe(
      false,
    );
    expect((await api("POST", `/api/requests/${id}/approve`, {})).status).toBe(200);
    expect((await result).rowCount).toBe(1);
    expect((await fx.direct("SELECT id, what FROM events")).rows).toEqual([{ id: 1, what: "deploy" }]);
    await client.end();
  }, 60_000);

  it("previews an INSERT that gives the serial column its value: no sequence is drawn", async () => {
    const sequence = async () => (await fx.direct("SELECT last_value, is_called FROM events_id_seq")).rows[0];
    const before = await sequence();
    const client = await fx.gw.connect(agent);
    const requestId = held(client);
    const result = client.query("INSERT INTO events (id, what) VALUES (100, 'explicit'), (101, 'too')");
    const id = await requestId;
    expect((await getRequest(id)).preview).toMatchObject({
      status: "ran",
      rows: 2,
      tables: [{ table: "public.events", inserted: 2, updated: 0, deleted: 0 }],
    });
    expect(await sequence()).toEqual(before);
    expect((await fx.direct("SELECT count(*)::int AS n FROM events WHERE id >= 100")).rows[0].n).toBe(0);
    expect((await api("POST", `/api/requests/${id}/approve`, {})).status).toBe(200);
    expect((await result).rowCount).toBe(2);
    expect(await sequence()).toEqual(before);
    await client.end();
  }, 60_000);

  it("does not preview a statement with bound parameters (extended protocol), and says so", async () => {
    const client = await fx.gw.connect(agent);
    const requestId = held(client);
    const result = client.query("UPDATE items SET name = $1 WHERE id = $2", ["bound", 1]);
    const id = await requestId;
    expect((await getRequest(id)).preview).toMatchObject({
      status: "refused",
      reason: expect.stringMatching(/simple query \(no bound parameters\)/),
    });
    expect((await api("POST", `/api/requests/${id}/approve`, {})).status).toBe(200);
    expect((await result).rowCount).toBe(1);
    await client.end();
  }, 60_000);

  it("refuses to preview NOTIFY, saying why", async () => {
    const client = await fx.gw.connect(agent);
    const requestId = held(client);
    const result = client.query("NOTIFY deployments, 'v2'");
    const id = await requestId;
    const preview = (await getRequest(id)).preview!;
    expect(preview).toMatchObject({ status: "refused" });
    if (preview.status === "ran") return;
    expect(preview.reason).toMatch(/NOTIFY/);
    const refused = failure(result);
    await api("POST", `/api/requests/${id}/deny`, { reason: "no" });
    expect((await refused).code).toBe("42501");
    await client.end();
  }, 60_000);

  it("rolls back and refuses the approved run when a concurrent insert pushes it over the previewed rows", async () => {
    await fx.direct("UPDATE items SET name = 'crowd' WHERE id BETWEEN 13 AND 20");
    const client = await fx.gw.connect(agent);
    const requestId = held(client);
    const result = client.query("UPDATE items SET name = 'crowd, renamed' WHERE name = 'crowd'");
    const id = await requestId;
    const preview = (await getRequest(id)).preview!;
    expect(preview).toMatchObject({ status: "ran", rows: 8 });
    // Between preview and approval another session adds a matching row.
    await fx.direct("INSERT INTO items VALUES (21, 'crowd')");
    expect((await api("POST", `/api/requests/${id}/approve`, {})).status).toBe(200);
    const error = await failure(result);
    expect(error.code).toBe("42501");
    expect(error.message).toMatch(
      /changed 9 rows, more than its preview showed \(8, ceiling 8, request req_/,
    );
    expect(error.message).toMatch(/nothing changed/);
    expect(await names("name = 'crowd, renamed'")).toEqual([]);
    // The session is usable and not in a transaction.
    expect((await client.query("SELECT count(*)::int AS n FROM items")).rows[0].n).toBe(21);
    await client.end();
  }, 60_000);

  it("inside the client's own transaction, a run over the ceiling fails that transaction", async () => {
    const client = await fx.gw.connect(agent);
    await client.query("BEGIN");
    const requestId = held(client);
    const result = client.query("UPDATE items SET name = 'crowd, again' WHERE name = 'crowd'");
    const id = await requestId;
    await fx.direct("INSERT INTO items VALUES (22, 'crowd')");
    await api("POST", `/api/requests/${id}/approve`, {});
    expect((await failure(result)).message).toMatch(/changed 10 rows, more than its preview showed \(9/);
    expect((await failure(client.query("SELECT 1"))).code).toBe("25P02");
    await client.query("ROLLBACK");
    expect(await names("name = 'crowd, again'")).toEqual([]);
    await client.end();
  }, 60_000);

  it("commits an approved run within the ceiling when the client is in a transaction", async () => {
    const client = await fx.gw.connect(agent);
    await client.query("BEGIN");
    const requestId = held(client);
    const result = client.query("UPDATE items SET name = 'crowd, committed' WHERE name = 'crowd'");
    const id = await requestId;
    await api("POST", `/api/requests/${id}/approve`, {});
    expect((await result).rowCount).toBe(10);
    await client.query("COMMIT");
    expect((await names("name = 'crowd, committed'")).length).toBe(10);
    await client.end();
  }, 60_000);
});
