import { performance } from "node:perf_hooks";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PG_SCHEMA_VERSION } from "../../src/store/postgres/pg-migrations.js";
import {
  auditedLoadRows,
  createReplicaSet,
  type Replica,
  type ReplicaSet,
} from "../support/latch-replicas.js";
import { type PgCluster, startPgCluster } from "../support/pg-cluster.js";

/**
 * Issue 11 end to end: compiled `latch serve` replicas sharing one real PostgreSQL store. What an admin or an
 * approver does through replica A takes effect on sessions that replica B serves, within a second.
 */

const POLICY = `
@id("agents-read")
permit(principal in Group::"agents", action in Action::"sql:read", resource in Connection::"app");
@id("agents-session")
permit(principal in Group::"agents", action in [Action::"sql:session", Action::"sql:set"], resource in Connection::"app");
@id("items-writes-need-dba")
@approval("dba")
permit(principal in Group::"agents", action in Action::"sql:write", resource == Table::"app/public.items");
@id("loaders-insert")
permit(principal in Group::"loaders", action in Action::"sql:write", resource == Table::"app/public.load_rows");
`;

/** How long a change made through A may take to reach a session on B. */
const CROSS_REPLICA_MS = 1000;

let cluster: PgCluster;
let set: ReplicaSet;
let a: Replica;
let b: Replica;
let admin: string;
let alice: string;

beforeAll(async () => {
  cluster = await startPgCluster({ auth: "scram-sha-256" });
  const app = new pg.Client({
    host: cluster.host,
    port: cluster.port,
    user: cluster.appUser,
    password: cluster.appPassword,
    database: cluster.appDatabase,
  });
  await app.connect();
  await app.query(`
    CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
    INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 20) g;
    CREATE TABLE load_rows (n int PRIMARY KEY);`);
  await app.end();
  set = await createReplicaSet(cluster, { policy: POLICY });
  a = await set.add("a");
  b = await set.add("b");
  // Case 6 happens here: both replicas start at the same moment on the empty store.
  await startTogetherAtMigration([a, b]);
  [admin, alice] = await Promise.all([set.token("root", ["latch-admins"]), set.token("alice", ["dba"])]);
}, 60_000);
afterAll(async () => {
  await set?.stop();
  await cluster?.stop();
});

async function api(replica: Replica, method: string, path: string, token: string, body?: unknown) {
  const response = await fetch(`${replica.adminUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: API bodies are checked field by field below
  return { status: response.status, body: (await response.json()) as any };
}

/**
 * Starts the replicas so that they reach the store's migration at the same moment: an open transaction holds
 * the name of the first table they create, every replica's first migration statement waits on it (or on the
 * migration lock, behind one that does), and it is rolled back once all of them are waiting. The store is
 * still empty then. Without the advisory lock they would race to create the same tables, and all but one fail.
 */
async function startTogetherAtMigration(replicas: readonly Replica[]): Promise<void> {
  const gate = new pg.Client({ connectionString: storeUrl() });
  await gate.connect();
  try {
    await gate.query("BEGIN");
    await gate.query("CREATE TABLE latch_schema_migrations (version integer PRIMARY KEY)");
    // Every start settles before a failure is thrown, so that afterAll can stop the replicas that did start.
    const started = Promise.allSettled(replicas.map((replica) => replica.start())).then((results) => {
      for (const result of results) if (result.status === "rejected") throw result.reason;
    });
    let failed = false; // a replica that fails meanwhile ends the wait; `started` is awaited below
    started.catch(() => {
      failed = true;
    });
    for (;;) {
      await gate.query("SELECT pg_stat_clear_snapshot()"); // else the open transaction sees one snapshot
      const { rows } = await gate.query<{ waiting: number }>(
        `SELECT count(*)::int AS waiting FROM pg_stat_activity
          WHERE datname = $1 AND application_name = 'latch' AND wait_event_type = 'Lock'`,
        [set.storeDatabase],
      );
      if (rows[0]!.waiting >= replicas.length || failed) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await gate.query("ROLLBACK");
    await started;
  } finally {
    await gate.end();
  }
}

const storeUrl = () => cluster.superuserUrl.replace(/\/postgres$/, `/${set.storeDatabase}`);

async function storeQuery(sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: storeUrl() });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

const REQUEST_ID = /request (req_[A-Za-z0-9_-]+)/;

/** The request id of the next hold notice the client receives. */
function nextHold(client: pg.Client): Promise<string> {
  return new Promise((resolve) => {
    const onNotice = (notice: { message?: string }) => {
      const match = REQUEST_ID.exec(notice.message ?? "");
      if (match === null) return;
      client.off("notice", onNotice);
      resolve(match[1]!);
    };
    client.on("notice", onNotice);
  });
}

/** When the gateway ends the session: the time (performance.now) and the error the client was sent. */
function sessionEnd(client: pg.Client): Promise<{ at: number; error: Error | undefined }> {
  let error: Error | undefined;
  client.on("error", (caught: Error) => {
    error ??= caught;
  });
  return new Promise((resolve) => client.once("end", () => resolve({ at: performance.now(), error })));
}

/** Rejects if `promise` has not settled `ms` after `since` (performance.now). */
function within<T>(promise: Promise<T>, since: number, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: not within ${ms} ms`)),
      Math.max(0, since + ms - performance.now()),
    );
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

describe("replicas sharing one PostgreSQL store", () => {
  it("two replicas started at the same moment on an empty store both come up, migrated once", async () => {
    for (const replica of [a, b])
      expect((await fetch(`${replica.adminUrl}/healthz`)).status, replica.name).toBe(200);
    const versions = (await storeQuery("SELECT version FROM latch_schema_migrations ORDER BY version")).rows;
    expect(versions.map((row: { version: number }) => row.version)).toEqual(
      Array.from({ length: PG_SCHEMA_VERSION }, (_, i) => i + 1),
    );
    const starts = await api(a, "GET", "/api/audit?kind=gateway_start", admin);
    expect(starts.body.events).toHaveLength(2);
  });

  it("a statement held through B is released within 1 s of an approval through A", async () => {
    const agent = await set.token("ci-bot", ["agents"]);
    const client = await b.connect(agent, "ci-bot");
    const delays: number[] = [];
    for (let id = 1; id <= 5; id++) {
      const held = nextHold(client);
      const result = client.query("UPDATE items SET name = $1 WHERE id = $2", [
        `approved through a ${id}`,
        id,
      ]);
      // The notice comes once the request is stored: an approver acting on it at once finds it.
      const requestId = await held;
      const vote = await api(a, "POST", `/api/requests/${requestId}/approve`, alice, { reason: "ticket 11" });
      const approvedAt = performance.now();
      expect(vote.status, JSON.stringify(vote.body)).toBe(200);
      expect(vote.body.request.state).toBe("approved");
      expect((await within(result, approvedAt, CROSS_REPLICA_MS, "held statement released")).rowCount).toBe(
        1,
      );
      delays.push(performance.now() - approvedAt);
    }
    await client.end();
    const sorted = [...delays].sort((x, y) => x - y);
    console.log(
      `approval through A -> held statement on B released: p50 ${sorted[2]!.toFixed(1)} ms, max ${sorted[4]!.toFixed(1)} ms (${delays.map((d) => d.toFixed(1)).join(", ")})`,
    );
  });

  it("latch principals block on A ends the principal's session on B within 1 s; B refuses a new login", async () => {
    const token = await set.token("blocked-bot", ["agents"]);
    const client = await b.connect(token, "blocked-bot");
    expect((await client.query("SELECT 1 AS one")).rows[0].one).toBe(1);
    const ended = sessionEnd(client);
    const block = await set.cli([
      "principals",
      "block",
      "blocked-bot",
      "--server",
      a.adminUrl,
      "--token",
      admin,
      "--reason",
      "issue 11 test",
    ]);
    const blockedAt = performance.now();
    expect(block.code, block.stderr).toBe(0);
    expect(block.stdout).toMatch(/blocked-bot blocked; 0 live session\(s\) ended/); // none on A itself
    const end = await within(ended, blockedAt, CROSS_REPLICA_MS, "session on B ended");
    expect(end.error?.message).toMatch(/blocked/);
    console.log(
      `principal blocked through A -> session on B ended ${(end.at - blockedAt).toFixed(1)} ms from the CLI's exit (negative: before it)`,
    );
    await expect(b.connect(token, "blocked-bot")).rejects.toThrow(/blocked/);
  });

  it("DELETE /api/sessions/:id on A for a session B serves answers 202 and the session ends within 1 s", async () => {
    const token = await set.token("kill-bot", ["agents"]);
    const client = await b.connect(token, "kill-bot");
    expect((await client.query("SELECT 1 AS one")).rows[0].one).toBe(1);
    const listed = await api(a, "GET", "/api/sessions?active=true&subject=kill-bot", admin);
    expect(listed.body.sessions).toHaveLength(1);
    const sessionId: string = listed.body.sessions[0].id;
    const ended = sessionEnd(client);
    const kill = await api(a, "DELETE", `/api/sessions/${sessionId}`, admin);
    const killedAt = performance.now();
    expect(kill.status).toBe(202);
    const end = await within(ended, killedAt, CROSS_REPLICA_MS, "session on B ended");
    expect(end.error?.message).toMatch(/terminated by an administrator/);
    console.log(`session killed through A -> session on B ended ${(end.at - killedAt).toFixed(1)} ms later`);
  });

  it("revoking through A a grant given through B ends the grantee's session on B within 1 s", async () => {
    const token = await set.token("grant-bot", ["agents"]);
    const client = await b.connect(token, "grant-bot");
    const held = nextHold(client);
    const first = client.query("UPDATE items SET name = 'grant one' WHERE id = 10");
    // Approved through B itself: only the revocation has to cross replicas in this case.
    const requestId = await held;
    const vote = await api(b, "POST", `/api/requests/${requestId}/approve`, alice, {
      reason: "batch",
      for: "5m",
    });
    expect(vote.status).toBe(200);
    const grantId: string = vote.body.request.grantId;
    expect(grantId).toMatch(/^grt_/);
    expect(
      (await within(first, performance.now(), CROSS_REPLICA_MS, "held statement released")).rowCount,
    ).toBe(1);
    // The grant, made through A, covers a different UPDATE on B without a new request.
    expect((await client.query("UPDATE items SET name = 'grant two' WHERE id = 11")).rowCount).toBe(1);

    const ended = sessionEnd(client);
    const revoke = await api(a, "DELETE", `/api/grants/${grantId}`, admin, { reason: "done" });
    const revokedAt = performance.now();
    expect(revoke.status).toBe(200);
    const end = await within(ended, revokedAt, CROSS_REPLICA_MS, "session on B ended");
    expect(end.error?.message).toMatch(/grant .* was revoked/);
    console.log(`grant revoked through A -> session on B ended ${(end.at - revokedAt).toFixed(1)} ms later`);
  });

  it("kill -9 of B mid-load: every committed row has an allowed operation event, and the store verifies", async () => {
    const token = await set.token("load-bot", ["agents", "loaders"]);
    // A few sessions, so that several statements are in flight (audited, forwarded, committing) at the kill.
    const LOADERS = 3;
    const clients = await Promise.all(Array.from({ length: LOADERS }, () => b.connect(token, "load-bot")));
    let acknowledged = 0;
    const load = async (client: pg.Client, worker: number) => {
      for (let n = worker; ; n += LOADERS) {
        try {
          await client.query(`INSERT INTO load_rows (n) VALUES (${n})`);
        } catch {
          return; // the gateway died under this statement
        }
        acknowledged++;
      }
    };
    const loading = Promise.all(clients.map((client, worker) => load(client, worker + 1)));
    await new Promise((resolve) => setTimeout(resolve, 800));
    await b.kill("SIGKILL");
    await loading;
    expect(acknowledged).toBeGreaterThanOrEqual(100);

    const app = new pg.Client({
      host: cluster.host,
      port: cluster.port,
      user: cluster.appUser,
      password: cluster.appPassword,
      database: cluster.appDatabase,
    });
    await app.connect();
    const committed = (await app.query("SELECT n FROM load_rows ORDER BY n")).rows.map(
      (row: { n: number }) => row.n,
    );
    await app.end();
    expect(committed.length).toBeGreaterThanOrEqual(acknowledged);

    const audited = await auditedLoadRows(set, a);
    const unaudited = committed.filter((n) => !audited.has(n));
    expect(unaudited).toEqual([]);
    // At most the statements in flight when B died were audited and not committed.
    expect(audited.size - committed.length).toBeLessThanOrEqual(LOADERS);
    console.log(
      `kill -9 mid-load: ${committed.length} rows committed, ${audited.size} allowed INSERTs audited`,
    );

    const verify = await set.cli(["audit", "verify", "--config", a.config]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/^audit chain OK/);
  });
});
