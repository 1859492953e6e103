import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApprovalStore, NewApprovalRequest } from "../../src/approvals/approval-store.js";
import type { ApprovalVote, Grant } from "../../src/approvals/approval-types.js";
import type { LiveSessionStore, NewLiveSession } from "../../src/store/live-session-store.js";
import { createPgApprovalStore } from "../../src/store/postgres/pg-approvals.js";
import { createPgLiveSessionStore } from "../../src/store/postgres/pg-live-sessions.js";
import { migratePgStore } from "../../src/store/postgres/pg-migrations.js";
import { type PgCluster, startPgCluster } from "../support/pg-cluster.js";

/**
 * The races the approval and live-session contracts say the store settles, run for real (issue 11): two
 * replicas, each with its own pool, on one database. So that the calls really overlap instead of happening to
 * run one after the other, each case first holds the contested row (or the contested key) in a transaction of
 * its own, starts every racing call, waits until PostgreSQL shows all of them queued on that lock, and only
 * then lets go: every caller reaches the row through the lock, in an order the test does not choose.
 */
const T0 = 1_700_000_000_000;
const REPLICA_POOL_SIZE = 12;

let cluster: PgCluster;
let database: string;
const pools: pg.Pool[] = [];
let replicas: { approvals: ApprovalStore; liveSessions: LiveSessionStore }[];
let counter = 0;

beforeAll(async () => {
  cluster = await startPgCluster({ auth: "trust" });
  database = `latch_state_races_${process.pid}`;
  await cluster.query(`CREATE DATABASE ${database} ENCODING 'UTF8' TEMPLATE template0`);
  const replicaPools = ["replica-a", "replica-b"].map((name) => newPool(name, REPLICA_POOL_SIZE));
  await Promise.all(replicaPools.map((pool) => migratePgStore(pool)));
  // Every connection opened up front: the racing calls do not wait for connects that would spread them out.
  await Promise.all(
    replicaPools.flatMap((pool) =>
      Array.from({ length: REPLICA_POOL_SIZE }, () => pool.query("SELECT pg_sleep(0.05)")),
    ),
  );
  replicas = replicaPools.map((pool) => ({
    approvals: createPgApprovalStore(pool),
    liveSessions: createPgLiveSessionStore(pool),
  }));
}, 120_000);

afterAll(async () => {
  for (const pool of pools) await pool.end().catch(() => undefined);
  await cluster?.stop();
}, 60_000);

function newPool(applicationName: string, max: number): pg.Pool {
  const pool = new pg.Pool({
    host: "127.0.0.1",
    port: cluster.port,
    user: "postgres",
    database,
    max,
    application_name: applicationName,
  });
  pool.on("error", () => undefined);
  pools.push(pool);
  return pool;
}

/** The two replicas taking turns: call i goes to replica i % 2. */
const replica = (i: number) => replicas[i % 2]!;

/**
 * Holds a lock taken by `lockSql` in an open transaction, starts `race`, waits until `waiters` backends of the
 * database are waiting on a lock, then ends the holding transaction (`end`) and returns what the race gave.
 */
async function raceThroughLock<T>(
  lockSql: string,
  params: unknown[],
  waiters: number,
  race: () => Promise<T>,
  end: "COMMIT" | "ROLLBACK" = "COMMIT",
): Promise<T> {
  const holder = new pg.Client({ host: "127.0.0.1", port: cluster.port, user: "postgres", database });
  await holder.connect();
  try {
    await holder.query("BEGIN");
    await holder.query(lockSql, params);
    const raced = race();
    // Observed, not timed: the loop ends as soon as the server shows every racing call queued.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { rows } = await holder.query<{ n: number }>(
        "SELECT count(*)::integer AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
        [database],
      );
      if (rows[0]!.n >= waiters) break;
      if (Date.now() > deadline) throw new Error(`only ${rows[0]!.n} of ${waiters} calls queued on the lock`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await holder.query(end);
    return await raced;
  } finally {
    await holder.end();
  }
}

function request(overrides: Partial<NewApprovalRequest> = {}): NewApprovalRequest {
  counter += 1;
  return {
    id: `req_race_${counter}`,
    mode: "defer",
    state: "pending",
    binding: `race-binding-${counter}`,
    sessionId: null,
    operationId: null,
    connection: "prod",
    requester: "agent-1",
    requesterIssuer: "latch-dev",
    requesterGroups: ["agents"],
    statements: ["DELETE FROM orders WHERE id = $1"],
    parameters: [["1"]],
    accesses: ["sql:delete Table:public.orders"],
    group: "dba",
    quorum: 1,
    rules: ["policies/prod.cedar#0"],
    reason: "delete needs approval by dba",
    requestedForMs: null,
    createdAt: T0,
    expiresAt: T0 + 60_000,
    decidedAt: null,
    decisionReason: null,
    consumedAt: null,
    grantId: null,
    ...overrides,
  };
}

function grantOf(requestId: string, overrides: Partial<Grant> = {}): Grant {
  counter += 1;
  return {
    id: `grt_race_${counter}`,
    requestId,
    principal: "agent-1",
    connection: "prod",
    accesses: ["sql:delete Table:public.orders"],
    group: "dba",
    quorum: 1,
    usesLeft: null,
    createdAt: T0,
    expiresAt: T0 + 600_000,
    revokedAt: null,
    revokedBy: null,
    revokeReason: null,
    ...overrides,
  };
}

const vote = (approver: string, at = T0 + 1_000): ApprovalVote => ({
  approver,
  approverIssuer: "latch-dev",
  vote: "approve",
  reason: "",
  at,
});

const LOCK_REQUEST = "SELECT 1 FROM latch_approval_requests WHERE id = $1 FOR UPDATE";
const LOCK_GRANT = "SELECT 1 FROM latch_approval_grants WHERE id = $1 FOR UPDATE";

describe("PostgreSQL state store: races between two replicas", () => {
  it("20 uses of a grant with 5 uses left, from both replicas at once: exactly 5 succeed", async () => {
    const r = request({ state: "approved" });
    await replica(0).approvals.insertRequest(r);
    const g = grantOf(r.id, { usesLeft: 5 });
    await replica(1).approvals.insertGrant(g);
    const uses = await raceThroughLock(LOCK_GRANT, [g.id], 20, () =>
      Promise.all(Array.from({ length: 20 }, (_, i) => replica(i).approvals.useGrant(g.id, T0 + 1))),
    );
    expect(uses.filter(Boolean)).toHaveLength(5);
    expect((await replica(0).approvals.getGrant(g.id))?.usesLeft).toBe(0);
  });

  it("two approvers voting at once on a 1-of-N request: one vote decides, the other finds it decided", async () => {
    const r = request({ quorum: 1 });
    await replica(0).approvals.insertRequest(r);
    const effect = (approver: string) => ({
      votesBefore: 0,
      state: "approved" as const,
      decidedAt: T0 + 1_000,
      decisionReason: `approved by ${approver}`,
      grant: grantOf(r.id),
    });
    const results = await raceThroughLock(LOCK_REQUEST, [r.id], 2, () =>
      Promise.all([
        replica(0).approvals.recordVote(r.id, vote("alice"), effect("alice")),
        replica(1).approvals.recordVote(r.id, vote("bob"), effect("bob")),
      ]),
    );
    expect(results.filter((result) => result === "recorded")).toHaveLength(1);
    expect(["not_pending", "changed"]).toContain(results.find((result) => result !== "recorded"));
    const decided = (await replica(1).approvals.getRequest(r.id))!;
    expect(decided.state).toBe("approved");
    expect(decided.votes).toHaveLength(1);
    // Only the winning vote's grant was written, and it is the one the request names.
    const grants = await replica(0).approvals.listGrants({ limit: 1000 });
    const ofRequest = grants.filter((g) => g.requestId === r.id);
    expect(ofRequest.map((g) => g.id)).toEqual([decided.grantId]);
    expect(decided.decisionReason).toBe(`approved by ${decided.votes[0]!.approver}`);
  });

  it("two votes of a 2-of-N request computed from the same count: the second sees the first and writes nothing", async () => {
    const r = request({ quorum: 2 });
    await replica(0).approvals.insertRequest(r);
    const results = await raceThroughLock(LOCK_REQUEST, [r.id], 2, () =>
      Promise.all([
        replica(0).approvals.recordVote(r.id, vote("alice"), { votesBefore: 0, state: "pending" }),
        replica(1).approvals.recordVote(r.id, vote("bob"), { votesBefore: 0, state: "pending" }),
      ]),
    );
    expect(results.sort()).toEqual(["changed", "recorded"]);
    expect(await replica(1).approvals.getRequest(r.id)).toMatchObject({ state: "pending" });
    expect((await replica(1).approvals.getRequest(r.id))?.votes).toHaveLength(1);
  });

  it("a one-time approval consumed from both replicas at once: exactly one wins", async () => {
    const r = request();
    await replica(0).approvals.insertRequest(r);
    await replica(0).approvals.recordVote(r.id, vote("alice"), {
      votesBefore: 0,
      state: "approved",
      decidedAt: T0 + 1_000,
    });
    const wins = await raceThroughLock(LOCK_REQUEST, [r.id], 8, () =>
      Promise.all(Array.from({ length: 8 }, (_, i) => replica(i).approvals.consumeRequest(r.id, T0 + 2_000))),
    );
    expect(wins.filter(Boolean)).toHaveLength(1);
    expect(await replica(1).approvals.findReleasable(r.binding, T0 + 3_000)).toEqual([]);
  });

  it("an expiry and an approving vote at once: exactly one of them closes the request", async () => {
    const r = request();
    await replica(0).approvals.insertRequest(r);
    const [finished, voted] = await raceThroughLock(LOCK_REQUEST, [r.id], 2, () =>
      Promise.all([
        replica(0).approvals.finishRequest(r.id, "expired", T0 + 60_000, "timed out"),
        replica(1).approvals.recordVote(r.id, vote("alice"), {
          votesBefore: 0,
          state: "approved",
          decidedAt: T0 + 1_000,
          grant: grantOf(r.id),
        }),
      ]),
    );
    const closed = (await replica(0).approvals.getRequest(r.id))!;
    if (finished) {
      expect(voted).toBe("not_pending");
      expect(closed).toMatchObject({ state: "expired", grantId: null, votes: [] });
    } else {
      expect(voted).toBe("recorded");
      expect(closed.state).toBe("approved");
    }
  });

  it("a grant revoked from both replicas at once: exactly one revocation is recorded", async () => {
    const r = request({ state: "approved" });
    await replica(0).approvals.insertRequest(r);
    const g = grantOf(r.id);
    await replica(0).approvals.insertGrant(g);
    const revoked = await raceThroughLock(LOCK_GRANT, [g.id], 2, () =>
      Promise.all([
        replica(0).approvals.revokeGrant(g.id, "alice", "first", T0 + 5),
        replica(1).approvals.revokeGrant(g.id, "bob", "second", T0 + 6),
      ]),
    );
    expect(revoked.filter(Boolean)).toHaveLength(1);
    const kept = (await replica(0).approvals.getGrant(g.id))!;
    expect(kept.revokedBy).toBe(revoked[0] ? "alice" : "bob");
  });

  it("the same live session added by both replicas at once: one resolves, the other rejects", async () => {
    const session = (gatewayId: string): NewLiveSession => ({
      id: "sess-race-1",
      gatewayId,
      protocol: "postgres",
      connection: "prod",
      subject: "agent-1",
      groups: ["agents"],
      clientAddress: "10.0.0.1:50000",
      startedAt: new Date(T0).toISOString(),
    });
    // The holder inserts the same id and rolls back: both adds wait on its key, then on each other.
    const holding = `INSERT INTO latch_live_sessions
      (id, gateway_id, protocol, connection, subject, groups, client_address, started_at, last_seen)
      VALUES ($1, 'holder', 'postgres', 'prod', 'x', '[]', '', 0, 0)`;
    const settled = await raceThroughLock(
      holding,
      ["sess-race-1"],
      2,
      () =>
        Promise.allSettled([
          replica(0).liveSessions.add(session("gw-a")),
          replica(1).liveSessions.add(session("gw-b")),
        ]),
      "ROLLBACK",
    );
    expect(settled.map((s) => s.status).sort()).toEqual(["fulfilled", "rejected"]);
    const rejected = settled.find((s) => s.status === "rejected") as PromiseRejectedResult;
    expect((rejected.reason as { code?: string }).code).toBe("23505"); // unique_violation
    const live = await replica(0).liveSessions.list();
    expect(live.filter((s) => s.id === "sess-race-1")).toHaveLength(1);
    await replica(0).liveSessions.remove("sess-race-1");
  });

  it("stale sessions removed by both replicas at once: each is reported by exactly one of them", async () => {
    const ids = ["stale-1", "stale-2", "stale-3"];
    for (const id of ids) {
      await replica(0).liveSessions.add({
        id,
        gatewayId: "gw-dead",
        protocol: "ssh",
        connection: "web-1",
        subject: "alice",
        groups: [],
        clientAddress: "10.0.0.2:40000",
        startedAt: new Date(T0).toISOString(),
      });
    }
    const removed = await raceThroughLock(
      "SELECT 1 FROM latch_live_sessions WHERE gateway_id = 'gw-dead' FOR UPDATE",
      [],
      2,
      () =>
        Promise.all([
          replica(0).liveSessions.removeStale(T0 + 1),
          replica(1).liveSessions.removeStale(T0 + 1),
        ]),
    );
    expect(
      removed
        .flat()
        .map((s) => s.id)
        .sort(),
    ).toEqual(ids);
    expect(await replica(1).liveSessions.list({ gatewayId: "gw-dead" })).toEqual([]);
  });
});
