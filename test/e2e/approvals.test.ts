import { spawn } from "node:child_process";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApprovalRequest, Grant } from "../../src/approvals/approval-types.js";
import { startTestGateway, type TestGateway } from "../support/test-gateway.js";
import { type GatewayFixture, startGatewayFixture } from "./pg-fixture.js";

/**
 * Just-in-time approval end to end: real node-postgres and psql clients, a real PostgreSQL behind the gateway,
 * approvers deciding through the admin API with their own tokens.
 */

const APPROVAL_POLICY = `
@id("agents-read")
permit(principal in Group::"agents", action in Action::"sql:read", resource in Connection::"app");
@id("agents-session")
permit(principal in Group::"agents", action in [Action::"sql:session", Action::"sql:set"], resource in Connection::"app");
@id("items-writes-need-dba")
@approval("dba")
permit(principal in Group::"agents", action in Action::"sql:write", resource == Table::"app/public.items");
@id("ledger-writes-need-two-dbas")
@approval("dba")
@quorum("2")
permit(principal in Group::"agents", action in Action::"sql:write", resource == Table::"app/public.ledger");
`;

const TIMEOUT = "3s";

let fx: GatewayFixture;
let agent: string;
let dbaAgent: string;
let alice: string;
let bob: string;
let mallory: string;

beforeAll(async () => {
  fx = await startGatewayFixture({
    policy: APPROVAL_POLICY,
    overrides: { approvals: { timeout: TIMEOUT, mode: "hold", max_grant: "10m" } },
  });
  await fx.direct(`
    SET ROLE ${fx.cluster.appUser};
    CREATE TABLE public.ledger (id int PRIMARY KEY, amount int NOT NULL);
    INSERT INTO public.ledger VALUES (1, 100), (2, 200);
    RESET ROLE;
  `);
  agent = await fx.gw.token("ci-bot", ["agents"]);
  dbaAgent = await fx.gw.token("ops-bot", ["agents", "dba"]);
  alice = await fx.gw.token("alice", ["dba"]);
  bob = await fx.gw.token("bob", ["dba"]);
  mallory = await fx.gw.token("mallory", ["analysts"]);
}, 60_000);
afterAll(async () => fx?.stop());

interface ApiAnswer {
  status: number;
  body: { request: ApprovalRequest; requests: ApprovalRequest[]; grants: Grant[]; error?: string };
}

async function api(
  gw: TestGateway,
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<ApiAnswer> {
  const response = await fetch(`${gw.adminUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as ApiAnswer["body"] };
}

const approve = (id: string, token: string, body: Record<string, unknown> = {}, gw = fx.gw) =>
  api(gw, "POST", `/api/requests/${id}/approve`, token, body);
const deny = (id: string, token: string, reason: string) =>
  api(fx.gw, "POST", `/api/requests/${id}/deny`, token, { reason });
const getRequest = async (id: string, gw = fx.gw) =>
  (await api(gw, "GET", `/api/requests/${id}`, alice)).body.request;

const REQUEST_ID = /request (req_[A-Za-z0-9_-]+)/;

/** Resolves with the request id of the first hold notice the client receives. */
function heldNotice(client: pg.Client): Promise<{ requestId: string; message: string }> {
  return new Promise((resolve) => {
    client.on("notice", (notice: { message?: string }) => {
      const match = REQUEST_ID.exec(notice.message ?? "");
      if (match) resolve({ requestId: match[1]!, message: notice.message! });
    });
  });
}

async function pgError(promise: Promise<unknown>): Promise<pg.DatabaseError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught as pg.DatabaseError,
  );
  expect(error, "expected the statement to fail").toBeDefined();
  return error!;
}

async function itemName(id: number): Promise<string> {
  return (await fx.direct("SELECT name FROM items WHERE id = $1", [id])).rows[0].name;
}

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > until) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("just-in-time approval through the PostgreSQL gateway", () => {
  it("holds an UPDATE, tells the client, and runs it once a dba approves", async () => {
    const client = await fx.gw.connect(agent);
    const notice = heldNotice(client);
    const result = client.query("UPDATE items SET name = $1 WHERE id = $2", ["approved by alice", 1]);
    const { requestId, message } = await notice;
    expect(message).toMatch(/held for approval/);
    expect(message).toMatch(/one member of group "dba"/);
    expect(message).toMatch(/waiting up to 3 s/);
    expect(await itemName(1)).toBe("item 1"); // held: not run yet
    const pending = await getRequest(requestId);
    expect(pending).toMatchObject({ state: "pending", requester: "ci-bot", group: "dba", quorum: 1 });
    expect(pending.statements).toEqual(["UPDATE items SET name = $1 WHERE id = $2"]);

    const vote = await approve(requestId, alice, { reason: "ticket 881" });
    expect(vote.status).toBe(200);
    expect(vote.body.request.state).toBe("approved");
    expect((await result).rowCount).toBe(1);
    expect(await itemName(1)).toBe("approved by alice");
    // The session goes on as if nothing happened.
    expect((await client.query("SELECT count(*)::int AS n FROM items")).rows[0].n).toBe(20);
    await client.end();

    await fx.gw.gateway.flushAudit();
    const kinds = async (kind: string) =>
      (await fx.gw.gateway.audit.events({ kind: kind as never, limit: 1000 })).filter((event) =>
        JSON.stringify(event.data).includes(requestId),
      );
    expect(await kinds("approval_requested")).toHaveLength(1);
    expect(await kinds("approval_vote")).toHaveLength(1);
    expect(await kinds("approval_decided")).toHaveLength(1);
    expect(await kinds("approval_released")).toHaveLength(1);
    const held = await kinds("operation");
    expect(held).toHaveLength(1);
    expect(held[0]!.data).toMatchObject({ verdict: { decision: "approval" }, approval: { requestId } });
  });

  it("psql: a held UPDATE is released by approval and psql prints the result", async () => {
    const psql = spawnPsql(fx.gw, agent, "UPDATE items SET name = 'via psql' WHERE id = 9");
    const requestId = await psql.requestId;
    expect((await approve(requestId, bob)).status).toBe(200);
    const { code, stdout } = await psql.exit;
    expect(code).toBe(0);
    expect(stdout).toMatch(/UPDATE 1/);
    expect(await itemName(9)).toBe("via psql");
  });

  it("a denial reaches the client as 42501 naming the request, and nothing runs", async () => {
    const client = await fx.gw.connect(agent);
    const notice = heldNotice(client);
    const result = pgError(client.query("UPDATE items SET name = 'never' WHERE id = 2"));
    const { requestId } = await notice;
    expect((await deny(requestId, alice, "change freeze")).status).toBe(200);
    const error = await result;
    expect(error.code).toBe("42501");
    expect(error.message).toContain(requestId);
    expect(error.message).toMatch(/denied by alice: change freeze/);
    expect(await itemName(2)).toBe("item 2");
    // The session stays usable after the refusal.
    expect((await client.query("SELECT 1 AS one")).rows[0].one).toBe(1);
    await client.end();
  });

  it("a request nobody decides expires: 42501 naming the request", async () => {
    const client = await fx.gw.connect(agent);
    const notice = heldNotice(client);
    const started = Date.now();
    const error = await pgError(client.query("UPDATE items SET name = 'late' WHERE id = 3"));
    const { requestId } = await notice;
    expect(Date.now() - started).toBeGreaterThanOrEqual(2500);
    expect(error.code).toBe("42501");
    expect(error.message).toContain(requestId);
    expect(error.message).toMatch(/expired/);
    expect((await getRequest(requestId)).state).toBe("expired");
    expect((await approve(requestId, alice)).status).toBe(409);
    expect(await itemName(3)).toBe("item 3");
    await client.end();
  });

  it("a quorum of two needs two distinct dbas", async () => {
    const client = await fx.gw.connect(agent);
    const notice = heldNotice(client);
    const result = client.query("UPDATE ledger SET amount = amount + 1 WHERE id = 1");
    const { requestId } = await notice;
    const first = await approve(requestId, alice);
    expect(first.body.request.state).toBe("pending");
    expect((await approve(requestId, alice)).status).toBe(409); // each approver counts once
    expect((await fx.direct("SELECT amount FROM ledger WHERE id = 1")).rows[0].amount).toBe(100);
    const second = await approve(requestId, bob);
    expect(second.body.request.state).toBe("approved");
    expect((await result).rowCount).toBe(1);
    expect((await fx.direct("SELECT amount FROM ledger WHERE id = 1")).rows[0].amount).toBe(101);
    await client.end();
  });

  it("refuses self-approval and approvers outside the group", async () => {
    const client = await fx.gw.connect(dbaAgent);
    const notice = heldNotice(client);
    const result = pgError(client.query("UPDATE items SET name = 'self' WHERE id = 4"));
    const { requestId } = await notice;
    const own = await approve(requestId, dbaAgent);
    expect([403, 409]).toContain(own.status);
    expect(own.body.error).toBe("self_approval");
    const outsider = await approve(requestId, mallory);
    expect(outsider.status).toBe(403);
    expect(outsider.body.error).toBe("not_in_group");
    expect((await getRequest(requestId)).state).toBe("pending");
    expect((await deny(requestId, bob, "not like this")).status).toBe(200);
    expect((await result).code).toBe("42501");
    expect(await itemName(4)).toBe("item 4");
    await client.end();
  });

  it("a restart with a held request: the request is final (abandoned), audited, and can never run later", async () => {
    const { startTestGateway } = await import("../support/test-gateway.js");
    const first = await startTestGateway(fx.cluster, {
      policy: APPROVAL_POLICY,
      overrides: { approvals: { timeout: "5m", mode: "hold" } },
    });
    const client = await first.connect(await first.token("ci-bot", ["agents"]));
    const notice = heldNotice(client);
    const held = client
      .query("UPDATE items SET name = 'across restart' WHERE id = 19")
      .catch((e: Error) => e);
    const { requestId } = await notice;
    await first.gateway.stop(); // the held client dies with the gateway
    expect(await held).toBeInstanceOf(Error);

    const second = await startTestGateway(fx.cluster, {
      policy: APPROVAL_POLICY,
      overrides: { approvals: { timeout: "5m", mode: "hold" } },
      dataDir: first.dataDir,
    });
    try {
      const approver = await second.token("alice", ["dba"]);
      const shown = await api(second, "GET", `/api/requests/${requestId}`, approver);
      expect(shown.body.request.state).toBe("abandoned");
      expect((await api(second, "POST", `/api/requests/${requestId}/approve`, approver, {})).status).toBe(
        409,
      );
      expect(await itemName(19)).toBe("item 19");
      await second.gateway.flushAudit();
      const decided = (await second.gateway.audit.events({ kind: "approval_decided", limit: 1000 })).filter(
        (e) => JSON.stringify(e.data).includes(requestId),
      );
      expect(decided.length).toBeGreaterThan(0);
      expect((await second.gateway.audit.verifyChain()).ok).toBe(true);
    } finally {
      await second.stop();
    }
  });

  it("a session that used a grant ends when the grant expires", async () => {
    const client = await fx.gw.connect(agent);
    const notice = heldNotice(client);
    const first = client.query("UPDATE items SET name = 'short grant one' WHERE id = 17");
    const { requestId } = await notice;
    expect((await approve(requestId, alice, { reason: "quick fix", for: "3s" })).status).toBe(200);
    expect((await first).rowCount).toBe(1);
    const ended = new Promise<Error>((resolve) => client.once("error", resolve));
    expect((await client.query("UPDATE items SET name = 'short grant two' WHERE id = 18")).rowCount).toBe(1);
    expect((await ended).message).toMatch(/the grant this session used has expired/);
  });

  it("a grant window lets a second, different UPDATE through without a new request", async () => {
    const client = await fx.gw.connect(agent);
    const notice = heldNotice(client);
    const first = client.query("UPDATE items SET name = 'grant one' WHERE id = 6");
    const { requestId } = await notice;
    const vote = await approve(requestId, alice, { reason: "batch", for: "2m" });
    expect(vote.status).toBe(200);
    const grantId = vote.body.request.grantId!;
    expect(grantId).toMatch(/^grt_/);
    expect((await first).rowCount).toBe(1);

    const before = (await api(fx.gw, "GET", "/api/requests?limit=1000", alice)).body.requests.length;
    let noticed = false;
    client.on("notice", () => {
      noticed = true;
    });
    const second = await client.query("UPDATE items SET name = 'grant two' WHERE id = 7");
    expect(second.rowCount).toBe(1);
    expect(noticed).toBe(false);
    expect(await itemName(7)).toBe("grant two");
    expect((await api(fx.gw, "GET", "/api/requests?limit=1000", alice)).body.requests.length).toBe(before);
    const grants = (await api(fx.gw, "GET", "/api/grants?active=true", alice)).body.grants as {
      id: string;
    }[];
    expect(grants.map((grant) => grant.id)).toContain(grantId);

    // Revoking the grant ends the principal's live sessions on this connection (live revocation), and a new
    // session's UPDATE is held again.
    const ended = new Promise<Error>((resolve) => client.once("error", resolve));
    // The approver may not take it back (403); an admin may.
    expect((await api(fx.gw, "DELETE", `/api/grants/${grantId}`, alice, { reason: "done" })).status).toBe(
      403,
    );
    const root = await fx.gw.token("root", ["latch-admins"]);
    expect((await api(fx.gw, "DELETE", `/api/grants/${grantId}`, root, { reason: "done" })).status).toBe(200);
    expect((await ended).message).toMatch(/grant .* was revoked/);
    const fresh = await fx.gw.connect(agent);
    const third = heldNotice(fresh);
    const held = pgError(fresh.query("UPDATE items SET name = 'grant three' WHERE id = 8"));
    const { requestId: again } = await third;
    expect(again).not.toBe(requestId);
    expect((await deny(again, bob, "grant is over")).status).toBe(200);
    expect((await held).code).toBe("42501");
    expect(await itemName(8)).toBe("item 8");
    await fresh.end();
  });

  it("a client that disconnects while held abandons the request, and the statement never runs", async () => {
    const psql = spawnPsql(fx.gw, agent, "UPDATE items SET name = 'abandoned' WHERE id = 10");
    const requestId = await psql.requestId;
    psql.kill();
    const request = await eventually(
      () => getRequest(requestId),
      (found) => found.state !== "pending",
    );
    expect(request.state).toBe("abandoned");
    expect((await approve(requestId, alice)).status).toBe(409);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await itemName(10)).toBe("item 10");
  });
});

describe("defer mode", () => {
  let deferred: TestGateway;

  beforeAll(async () => {
    deferred = await startTestGateway(fx.cluster, {
      policy: APPROVAL_POLICY,
      overrides: { approvals: { timeout: "30s", mode: "defer" } },
    });
  });
  afterAll(async () => deferred?.stop());

  it("refuses at once with the request id; the re-run after approval succeeds once", async () => {
    // Each gateway has its own dev issuer: tokens come from this one.
    const client = await deferred.connect(await deferred.token("ci-bot", ["agents"]));
    const dba = await deferred.token("alice", ["dba"]);
    const sql = "UPDATE items SET name = 'deferred' WHERE id = 11";
    const first = await pgError(client.query(sql));
    expect(first.code).toBe("42501");
    const requestId = REQUEST_ID.exec(first.message)?.[1];
    expect(requestId).toBeDefined();
    // Re-running before the decision reuses the pending request.
    const again = await pgError(client.query(sql));
    expect(again.message).toContain(requestId!);
    expect(await itemName(11)).toBe("item 11");

    expect((await approve(requestId!, dba, {}, deferred)).status).toBe(200);
    expect((await client.query(sql)).rowCount).toBe(1);
    expect(await itemName(11)).toBe("deferred");
    // Once: the next run asks again.
    const third = await pgError(client.query(sql));
    expect(third.code).toBe("42501");
    expect(third.message).not.toContain(requestId!);
    await client.end();
  });

  it("an approval never releases other parameters, even ones whose recorded preview is identical", async () => {
    const client = await deferred.connect(await deferred.token("ci-bot", ["agents"]));
    const dba = await deferred.token("alice", ["dba"]);
    const sql = "UPDATE items SET name = $1 WHERE id = $2";
    const long = "x".repeat(300); // previews keep 256 bytes: A and B differ only past the cut
    const first = await pgError(client.query(sql, [`${long}A`, 12]));
    const requestId = REQUEST_ID.exec(first.message)![1]!;
    expect((await approve(requestId, dba, {}, deferred)).status).toBe(200);
    const swapped = await pgError(client.query(sql, [`${long}B`, 12]));
    expect(swapped.code).toBe("42501");
    expect(swapped.message).not.toContain(requestId);
    expect(await itemName(12)).toBe("item 12");
    expect((await client.query(sql, [`${long}A`, 12])).rowCount).toBe(1);
    expect(await itemName(12)).toBe(`${long}A`);
    await client.end();
  });
});

/** psql with the token as password; resolves the request id from the NOTICE it prints. */
function spawnPsql(gw: TestGateway, token: string, sql: string) {
  const child = spawn("psql", [gw.conninfo(), "-v", "ON_ERROR_STOP=1", "-c", sql], {
    env: { ...process.env, PGPASSWORD: token, PGCONNECT_TIMEOUT: "10" },
  });
  let stdout = "";
  let stderr = "";
  let found: (id: string) => void = () => {};
  const requestId = new Promise<string>((resolve) => {
    found = resolve;
  });
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    const match = REQUEST_ID.exec(stderr);
    if (match) found(match[1]!);
  });
  const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr })),
  );
  return { requestId, exit, kill: () => child.kill("SIGKILL") };
}
