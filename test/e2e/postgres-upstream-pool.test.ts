import net from "node:net";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LatchError } from "../../src/errors.js";
import { type PgCluster, startPgCluster } from "../support/pg-cluster.js";
import { startTestGateway, type TestGateway } from "../support/test-gateway.js";

/**
 * Session-mode upstream pooling against a real SCRAM PostgreSQL: a backend serves the next session only after
 * the client ended its own session cleanly, and that session sees nothing the previous one left behind.
 */
let cluster: PgCluster;
let gw: TestGateway;
const passwordEnv = "LATCH_TEST_PW_POOL";
const otherPasswordEnv = "LATCH_TEST_PW_POOL_OTHER";
const POLICY = `permit(principal in Group::"agents", action, resource);`;

beforeAll(async () => {
  cluster = await startPgCluster({ auth: "scram-sha-256" });
  process.env[otherPasswordEnv] = "other-secret-pw";
  await cluster.query("CREATE ROLE app_other LOGIN PASSWORD 'other-secret-pw'");
  await cluster.query("GRANT CONNECT ON DATABASE app TO app_other");
  const upstream = (user: string, database: string) =>
    `postgres://${user}@127.0.0.1:${cluster.port}/${database}`;
  gw = await startTestGateway(cluster, {
    policy: POLICY,
    passwordEnv,
    overrides: {
      connections: {
        app: {
          type: "postgres",
          upstream: upstream(cluster.appUser, cluster.appDatabase),
          password: { env: passwordEnv },
          pool: { max_idle: 2 },
        },
        "app-postgres-db": {
          type: "postgres",
          upstream: upstream(cluster.appUser, "postgres"),
          password: { env: passwordEnv },
          pool: { max_idle: 2 },
        },
        "app-other-user": {
          type: "postgres",
          upstream: upstream("app_other", cluster.appDatabase),
          password: { env: otherPasswordEnv },
          pool: { max_idle: 2 },
        },
        "app-short-idle": {
          type: "postgres",
          upstream: upstream(cluster.appUser, cluster.appDatabase),
          password: { env: passwordEnv },
          pool: { max_idle: 2, idle_timeout: "500ms" },
        },
      },
    },
  });
}, 60_000);

afterAll(async () => {
  await gw?.stop();
  await cluster?.stop();
});

/** The idle gauge of a connection, read from /metrics. */
async function idleOf(connection: string, on: TestGateway = gw): Promise<number> {
  const text = await (await fetch(`${on.adminUrl}/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith(`latch_upstream_pool_idle_connections{connection="${connection}"}`));
  return line === undefined ? 0 : Number(line.split(" ").pop());
}

async function checkouts(connection: string, result: "hit" | "miss"): Promise<number> {
  const text = await (await fetch(`${gw.adminUrl}/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) =>
      l.startsWith(`latch_upstream_pool_checkouts_total{connection="${connection}",result="${result}"}`),
    );
  return line === undefined ? 0 : Number(line.split(" ").pop());
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface Watched {
  client: pg.Client;
  pid: number;
  parameters: Map<string, string>;
  processID: number;
  secretKey: number;
  errors: Error[];
}

/** A client that records the ParameterStatus set of its startup and its backend's pid. */
async function open(
  subject: string,
  database = "app",
  extra: Partial<pg.ClientConfig> = {},
  on: TestGateway = gw,
): Promise<Watched> {
  const client = new pg.Client({
    ...on.clientConfig(await on.token(subject, ["agents"]), database),
    ...extra,
  });
  const errors: Error[] = [];
  client.on("error", (error) => errors.push(error));
  const parameters = new Map<string, string>();
  let inStartup = true;
  (
    client as unknown as {
      connection: { on(e: string, f: (m: { parameterName: string; parameterValue: string }) => void): void };
    }
  ).connection.on("parameterStatus", (m) => {
    if (inStartup) parameters.set(m.parameterName, m.parameterValue);
  });
  await client.connect();
  inStartup = false;
  const { processID, secretKey } = client as unknown as { processID: number; secretKey: number };
  const pid = (await client.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number;
  return { client, pid, parameters, processID, secretKey, errors };
}

/** Ends the session with Terminate and waits until its backend is back in the pool. */
async function quit(watched: Watched, connection = "app", on: TestGateway = gw): Promise<void> {
  const before = await idleOf(connection, on);
  await watched.client.end();
  await eventually(async () => (await idleOf(connection, on)) > before);
}

describe("session-mode upstream pool", () => {
  it("reuses the backend for the next session, which sees none of the first session's state", async () => {
    const first = await open("pool-a@example.com");
    const c = first.client;
    await c.query("CREATE TEMP TABLE leftover (x int)");
    await c.query("SET TimeZone = 'Asia/Tokyo'");
    await c.query("SET work_mem = '7MB'");
    await c.query("PREPARE leftover_plan AS SELECT 1");
    await c.query("SELECT pg_advisory_lock(4242)");
    await c.query({ name: "leftover_named", text: "SELECT 2 AS two" });
    const hitsBefore = await checkouts("app", "hit");
    await quit(first);

    const second = await open("pool-b@example.com");
    expect(second.pid).toBe(first.pid);
    expect(await checkouts("app", "hit")).toBe(hitsBefore + 1);
    // The new client's startup looks exactly like the first one's did: same ParameterStatus set (each client
    // sees its own principal as session_authorization).
    expect(second.parameters.get("session_authorization")).toBe("pool-b@example.com");
    const withoutUser = (parameters: Map<string, string>) =>
      Object.fromEntries([...parameters].filter(([name]) => name !== "session_authorization"));
    expect(withoutUser(second.parameters)).toEqual(withoutUser(first.parameters));
    expect(second.parameters.size).toBeGreaterThan(8);
    const s = second.client;
    expect((await s.query("SELECT to_regclass('pg_temp.leftover') AS t")).rows[0].t).toBeNull();
    expect((await s.query("SHOW work_mem")).rows[0].work_mem).not.toBe("7MB");
    expect((await s.query("SHOW TimeZone")).rows[0].TimeZone).toBe(first.parameters.get("TimeZone"));
    expect((await s.query("SELECT count(*)::int AS n FROM pg_prepared_statements")).rows[0].n).toBe(0);
    const locks = await cluster.query(
      "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = $1",
      [second.pid],
    );
    expect(locks.rows[0].n).toBe(0);
    expect((await s.query("SELECT current_user AS u")).rows[0].u).toBe(cluster.appUser);
    await quit(second);

    // The record says which backend served each session, dialled or reused, by the process id the server logs.
    await gw.gateway.flushAudit();
    const connected = async (subject: string) => {
      const [start] = await gw.gateway.audit.events({ kind: "session_start", subject });
      const events = await gw.gateway.audit.events({
        kind: "upstream_connected",
        sessionId: start!.sessionId!,
      });
      expect(events).toHaveLength(1);
      return events[0]!.data;
    };
    expect(await connected("pool-a@example.com")).toEqual({
      backendPid: first.pid,
      connection: "app",
      reused: false,
    });
    const reused = await connected("pool-b@example.com");
    expect(reused).toMatchObject({ backendPid: first.pid, connection: "app", reused: true });
    expect(reused.backendAgeMs).toBeGreaterThan(0);
  });

  it("does not return a backend whose session ended inside a transaction", async () => {
    const session = await open("pool-tx@example.com");
    await session.client.query("BEGIN");
    await session.client.query("SELECT 1");
    await session.client.end();
    await eventually(async () => {
      const { rows } = await cluster.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1", [
        session.pid,
      ]);
      return rows[0].n === 0;
    });
    const next = await open("pool-tx-next@example.com");
    expect(next.pid).not.toBe(session.pid);
    await quit(next);
  });

  it("does not return the backend of a killed session", async () => {
    const session = await open("pool-killed@example.com");
    gw.gateway.sessions.terminateWhere(
      (live) => live.subject === "pool-killed@example.com",
      new LatchError("session_terminated", { reason: "test kill" }),
      "test kill",
    );
    await eventually(async () => session.errors.length > 0);
    await session.client.end().catch(() => {});
    await eventually(async () => {
      const { rows } = await cluster.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1", [
        session.pid,
      ]);
      return rows[0].n === 0;
    });
  });

  it("gives different upstream users, databases and startup parameters different backends", async () => {
    const base = await open("pool-keys@example.com");
    await quit(base);
    const otherDb = await open("pool-keys@example.com", "app-postgres-db");
    expect(otherDb.pid).not.toBe(base.pid);
    expect((await otherDb.client.query("SELECT current_database() AS d")).rows[0].d).toBe("postgres");
    const otherUser = await open("pool-keys@example.com", "app-other-user");
    expect(otherUser.pid).not.toBe(base.pid);
    expect((await otherUser.client.query("SELECT current_user AS u")).rows[0].u).toBe("app_other");
    const otherParams = await open("pool-keys@example.com", "app", { application_name: "pool-other-app" });
    expect(otherParams.pid).not.toBe(base.pid);
    expect((await otherParams.client.query("SHOW application_name")).rows[0].application_name).toBe(
      "pool-other-app",
    );
    await quit(otherParams);
    // The same parameters again: that backend, with its startup application_name.
    const sameParams = await open("pool-keys-2@example.com", "app", { application_name: "pool-other-app" });
    expect(sameParams.pid).toBe(otherParams.pid);
    await quit(sameParams);
    // And the plain one is still there for plain sessions.
    const plain = await open("pool-keys-3@example.com");
    expect(plain.pid).toBe(base.pid);
    await quit(plain);
    await quit(otherDb, "app-postgres-db");
    await quit(otherUser, "app-other-user");
  });

  it("closes a backend that stayed idle longer than idle_timeout", async () => {
    const session = await open("pool-idle@example.com", "app-short-idle");
    await quit(session, "app-short-idle");
    await eventually(async () => (await idleOf("app-short-idle")) === 0);
    await eventually(async () => {
      const { rows } = await cluster.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1", [
        session.pid,
      ]);
      return rows[0].n === 0;
    });
    const next = await open("pool-idle-next@example.com", "app-short-idle");
    expect(next.pid).not.toBe(session.pid);
    await next.client.end();
  });

  it("never hands out a backend that died while idle", async () => {
    const session = await open("pool-dead@example.com");
    await quit(session);
    const idle = await idleOf("app");
    await cluster.query("SELECT pg_terminate_backend($1)", [session.pid]);
    await eventually(async () => (await idleOf("app")) === idle - 1);
    const next = await open("pool-dead-next@example.com");
    expect(next.pid).not.toBe(session.pid);
    expect((await next.client.query("SELECT 1 AS ok")).rows[0].ok).toBe(1);
    await quit(next);
  });

  it("cancels a statement on a reused backend, and the old client's key cancels nothing", async () => {
    const first = await open("pool-cancel-a@example.com");
    await quit(first);
    const second = await open("pool-cancel-b@example.com");
    expect(second.pid).toBe(first.pid);
    // The first client's key belonged to its session only: it does not cut the statement now running.
    expect([second.processID, second.secretKey]).not.toEqual([first.processID, first.secretKey]);
    const sleeping = second.client.query("SELECT pg_sleep(0.5) AS slept");
    await sendCancel(first.processID, first.secretKey);
    expect((await sleeping).rows).toHaveLength(1);
    const running = second.client.query("SELECT pg_sleep(30)");
    await eventually(async () => {
      const { rows } = await cluster.query("SELECT state FROM pg_stat_activity WHERE pid = $1", [second.pid]);
      return rows[0]?.state === "active";
    });
    await sendCancel(second.processID, second.secretKey);
    await expect(running).rejects.toMatchObject({ code: "57014" });
    expect((await second.client.query("SELECT 1 AS ok")).rows[0].ok).toBe(1);
    await quit(second);
  });

  it("tells the next client a setting the server reported during the last session (a config reload)", async () => {
    const first = await open("pool-reload-a@example.com");
    expect(first.parameters.get("default_transaction_read_only")).toBe("off");
    await cluster.query("ALTER SYSTEM SET default_transaction_read_only = on");
    await cluster.query("SELECT pg_reload_conf()");
    try {
      // The server reports a reloaded setting at its next ReadyForQuery.
      await eventually(async () => {
        const { rows } = await first.client.query("SHOW default_transaction_read_only");
        return rows[0].default_transaction_read_only === "on";
      });
      await quit(first);
      const second = await open("pool-reload-b@example.com");
      expect(second.pid).toBe(first.pid);
      expect(second.parameters.get("default_transaction_read_only")).toBe("on");
      await second.client.end();
    } finally {
      await cluster.query("ALTER SYSTEM RESET default_transaction_read_only");
      await cluster.query("SELECT pg_reload_conf()");
    }
  });
});

describe("session-mode upstream pool over TLS to the upstream", () => {
  let tlsCluster: PgCluster;
  let tlsGw: TestGateway;
  beforeAll(async () => {
    tlsCluster = await startPgCluster({ auth: "scram-sha-256", ssl: true });
    tlsGw = await startTestGateway(tlsCluster, {
      policy: POLICY,
      passwordEnv: "LATCH_TEST_PW_POOL_TLS",
      overrides: {
        connections: {
          app: {
            type: "postgres",
            upstream: `postgres://${tlsCluster.appUser}@127.0.0.1:${tlsCluster.port}/${tlsCluster.appDatabase}`,
            password: { env: "LATCH_TEST_PW_POOL_TLS" },
            tls: "verify-full",
            ca_file: tlsCluster.sslCertFile,
            pool: {},
          },
        },
      },
    });
  }, 60_000);
  afterAll(async () => {
    await tlsGw?.stop();
    await tlsCluster?.stop();
  });

  it("reuses a verify-full TLS backend, still encrypted, reset like a plaintext one", async () => {
    const first = await open("pool-tls-a@example.com", "app", {}, tlsGw);
    await first.client.query("CREATE TEMP TABLE leftover (x int)");
    await quit(first, "app", tlsGw);
    const second = await open("pool-tls-b@example.com", "app", {}, tlsGw);
    expect(second.pid).toBe(first.pid);
    const { rows } = await second.client.query(
      "SELECT ssl, to_regclass('pg_temp.leftover') AS t FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    );
    expect(rows[0]).toEqual({ ssl: true, t: null });
    await second.client.end();
  });
});

function sendCancel(processId: number, secretKey: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const socket = net.connect(gw.port, "127.0.0.1", () => {
      const frame = Buffer.alloc(16);
      frame.writeInt32BE(16, 0);
      frame.writeInt32BE(80877102, 4);
      frame.writeInt32BE(processId, 8);
      frame.writeInt32BE(secretKey, 12);
      socket.end(frame);
    });
    socket.on("close", () => resolve());
    socket.on("error", reject);
  });
}
