import { performance } from "node:perf_hooks";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  auditedLoadRows,
  createReplicaSet,
  type Replica,
  type ReplicaSet,
} from "../support/latch-replicas.js";
import { type PgCluster, startPgCluster, startPgServer, stopPgServer } from "../support/pg-cluster.js";

/**
 * Issue 11, store restart mid-load: two compiled `latch serve` replicas share a PostgreSQL store on a cluster of
 * its own, so the store can be stopped and started while the target database keeps running. While the store is
 * down every statement is denied (58030: the audit log cannot be written, so nothing is forwarded); once it is
 * back, statements flow again on the same sessions without restarting a replica.
 */

const POLICY = `
@id("loaders-read")
permit(principal in Group::"loaders", action in Action::"sql:read", resource in Connection::"app");
@id("loaders-session")
permit(principal in Group::"loaders", action in [Action::"sql:session", Action::"sql:set"], resource in Connection::"app");
@id("loaders-insert")
permit(principal in Group::"loaders", action in Action::"sql:write", resource == Table::"app/public.load_rows");
`;

/** How long after the store is back statements must flow again, and /healthz answer 200. */
const RECOVERY_MS = 5000;
/** How long the store stays down at least. */
const OUTAGE_MS = 2000;

let store: PgCluster;
let target: PgCluster;
let set: ReplicaSet;
let a: Replica;
let b: Replica;

beforeAll(async () => {
  [store, target] = await Promise.all([startPgCluster(), startPgCluster()]);
  const app = targetClient();
  await app.connect();
  await app.query("CREATE TABLE load_rows (n int PRIMARY KEY)");
  await app.end();
  set = await createReplicaSet(store, { policy: POLICY, target });
  a = await set.add("a");
  b = await set.add("b");
  await a.start();
  await b.start();
}, 60_000);
afterAll(async () => {
  await set?.stop();
  await Promise.all([store?.stop(), target?.stop()]);
});

const targetClient = () =>
  new pg.Client({
    host: target.host,
    port: target.port,
    user: target.appUser,
    password: target.appPassword,
    database: target.appDatabase,
  });

/** One statement through a replica: when it was sent and answered, and its SQLSTATE if it failed. */
interface Outcome {
  readonly kind: "read" | "insert";
  /** The row an INSERT adds. */
  readonly n?: number;
  readonly sentAt: number;
  readonly answeredAt: number;
  /** undefined when it succeeded; "closed" when the session itself failed. */
  readonly code?: string;
}

interface Load {
  readonly replica: Replica;
  readonly outcomes: Outcome[];
  /** Set when the gateway or the network ended the session. */
  sessionEnded: boolean;
  stop(): Promise<void>;
}

/**
 * Alternates a read and an autocommit INSERT of a fresh row through one session until stopped, recording every
 * outcome. It stops by itself only if the session ends.
 */
function startLoad(replica: Replica, client: pg.Client, firstRow: number): Load {
  let stopping = false;
  const load: Load = {
    replica,
    outcomes: [],
    sessionEnded: false,
    async stop() {
      stopping = true;
      await running;
      await client.end().catch(() => undefined);
    },
  };
  client.once("end", () => {
    load.sessionEnded = true;
  });
  const running = (async () => {
    for (let i = 0; !stopping && !load.sessionEnded; i++) {
      const insert = i % 2 === 1;
      const n = firstRow + i;
      const sentAt = performance.now();
      let code: string | undefined;
      try {
        if (insert) await client.query(`INSERT INTO load_rows (n) VALUES (${n})`);
        else await client.query("SELECT count(*) FROM load_rows");
      } catch (error) {
        code = (error as { code?: string }).code ?? "closed";
      }
      load.outcomes.push({
        kind: insert ? "insert" : "read",
        ...(insert ? { n } : {}),
        sentAt,
        answeredAt: performance.now(),
        ...(code === undefined ? {} : { code }),
      });
      if (code === "closed") load.sessionEnded = true;
      // Paces the loop: a denial comes back at once, and the gateway logs every one.
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  return load;
}

const answeredAfter = (load: Load, since: number) => load.outcomes.filter((o) => o.sentAt >= since);
const firstSuccessAfter = (load: Load, since: number) =>
  load.outcomes.find((o) => o.code === undefined && o.answeredAt >= since);

async function until(ms: number, what: string, done: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await done())) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function healthz(replica: Replica) {
  const response = await fetch(`${replica.adminUrl}/healthz`);
  // biome-ignore lint/suspicious/noExplicitAny: the body is checked field by field below
  return { status: response.status, body: (await response.json()) as any };
}

describe("replicas on a PostgreSQL store that restarts", () => {
  it("store restart mid-load: statements are denied while it is down and flow again after", async () => {
    const [token, killToken, admin] = await Promise.all([
      set.token("load-bot", ["loaders"]),
      set.token("kill-bot", ["loaders"]),
      set.token("root", ["latch-admins"]),
    ]);
    const loads = await Promise.all(
      [a, b].map(async (replica, i) =>
        startLoad(replica, await replica.connect(token, "load-bot"), (i + 1) * 1_000_000),
      ),
    );
    try {
      await until(5000, "statements flow before the outage", () =>
        loads.every((load) => load.outcomes.filter((o) => o.code === undefined).length >= 20),
      );

      // Down: every statement sent from now on is denied in-protocol, and the session stays usable.
      await stopPgServer(store, "fast");
      const downAt = performance.now();
      // An outage of a few seconds: the pools' reconnects and the LISTEN connection's back-off are exercised.
      await until(
        OUTAGE_MS + 5000,
        "statements through both replicas answered while the store is down",
        () =>
          performance.now() - downAt >= OUTAGE_MS &&
          loads.every((load) => answeredAfter(load, downAt).length >= 10),
      );
      for (const load of loads) {
        const codes = new Set(answeredAfter(load, downAt).map((o) => o.code));
        expect([...codes], load.replica.name).toEqual(["58030"]);
        expect(load.sessionEnded, load.replica.name).toBe(false);
        const health = await healthz(load.replica);
        expect(health.status, load.replica.name).toBe(503);
        expect(health.body).toMatchObject({
          status: "unhealthy",
          store: "unavailable",
          audit: { state: "refusing" },
        });
      }
      // A login needs the store too (the principal block check): refused with the same SQLSTATE.
      await expect(a.connect(token, "load-bot")).rejects.toMatchObject({ code: "58030" });

      // Back: the same sessions run statements again, and /healthz turns 200 without a restart.
      const restartAt = performance.now();
      await startPgServer(store);
      const backAt = performance.now();
      await until(RECOVERY_MS, "statements flow again through both replicas", () =>
        loads.every((load) => firstSuccessAfter(load, restartAt) !== undefined || load.sessionEnded),
      );
      for (const load of loads) {
        expect(load.sessionEnded, `${load.replica.name}: its session survived the outage`).toBe(false);
        const first = firstSuccessAfter(load, restartAt)!;
        // pg_ctl start -w polls, so the server may take connections a little before it returns (negative).
        console.log(
          `store restart -> first successful statement through ${load.replica.name} on the same session: ${(first.answeredAt - backAt).toFixed(1)} ms after pg_ctl start -w returned, ${(first.answeredAt - restartAt).toFixed(1)} ms after it was run`,
        );
      }
      for (const replica of [a, b])
        await until(RECOVERY_MS, `/healthz on ${replica.name} 200 again`, async () => {
          const health = await healthz(replica);
          return health.status === 200 && health.body.audit.state === "ok";
        });
      await until(5000, "statements keep flowing after the outage", () =>
        loads.every((load) => answeredAfter(load, backAt).filter((o) => o.code === undefined).length >= 20),
      );
      await Promise.all(loads.map((load) => load.stop()));

      // Nothing succeeded while the store was down.
      for (const load of loads) {
        const whileDown = load.outcomes.filter((o) => o.sentAt >= downAt && o.answeredAt <= restartAt);
        expect(whileDown.length, load.replica.name).toBeGreaterThanOrEqual(10);
        expect(
          whileDown.filter((o) => o.code !== "58030"),
          load.replica.name,
        ).toEqual([]);
      }

      const app = targetClient();
      await app.connect();
      const committed = new Set(
        (await app.query("SELECT n FROM load_rows")).rows.map((row: { n: number }) => row.n),
      );
      await app.end();
      const inserts = loads.flatMap((load) => load.outcomes.filter((o) => o.kind === "insert"));
      expect(inserts.filter((o) => o.code === undefined && !committed.has(o.n!))).toEqual([]);
      expect(inserts.filter((o) => o.code === "58030" && committed.has(o.n!))).toEqual([]);
      const audited = await auditedLoadRows(set, a);
      expect([...committed].filter((n) => !audited.has(n))).toEqual([]);
      console.log(
        `store restart mid-load: ${committed.size} rows committed, ${audited.size} allowed INSERTs audited, ${inserts.filter((o) => o.code === "58030").length} INSERTs denied with 58030`,
      );

      const verify = await set.cli(["audit", "verify", "--config", a.config]);
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
      expect(verify.stdout).toMatch(/^audit chain OK/);

      // Cross-replica events survived the restart too: a kill through A ends a new session on B.
      const client = await b.connect(killToken, "kill-bot");
      let ended = false;
      client.once("end", () => {
        ended = true;
      });
      const listed = await fetch(`${a.adminUrl}/api/sessions?active=true&subject=kill-bot`, {
        headers: { authorization: `Bearer ${admin}` },
      });
      const sessions = ((await listed.json()) as { sessions: { id: string }[] }).sessions;
      expect(sessions).toHaveLength(1);
      const kill = await fetch(`${a.adminUrl}/api/sessions/${sessions[0]!.id}`, {
        method: "DELETE",
        headers: { authorization: `Bearer ${admin}` },
      });
      expect(kill.status).toBe(202);
      await until(RECOVERY_MS, "session on B ended by a kill through A", () => ended);
    } finally {
      await Promise.all(loads.map((load) => load.stop()));
    }
  }, 60_000);
});
